"""What the bot adds to every broadcast, in the person's language (the ``bot`` catalog).

Extracted by ``make catalogs`` (babel.cfg names this file).
"""

from __future__ import annotations

from bot.config import Settings
from bot.i18n import speaker


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is said."""
    return message


STOP_HINT = N_("You get this message because you wrote to us. To get no more of them, send STOP.")


def stop_hint(settings: Settings, language: str) -> str:
    return speaker(settings.locales_dir, language).gettext(STOP_HINT)
