"""What the bot says, in the person's language: gettext catalogs of the ``bot`` domain.

Knowledge answers carry their own text per language (``knowledge/``); everything
else the bot says comes from ``locales/<locale>/LC_MESSAGES/bot.po``, with English
source strings as message ids (most of them written in ``flows/*.yaml``).

Pashto and Dari are written right to left. A phone shows a line that starts with a
number or a Latin word ("112", "Infolijn") in the wrong order unless the line is
marked as right-to-left, so every line of RTL text is wrapped in a directional
isolate (U+2067 RLI ... U+2069 PDI).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import yaml
from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.config import LANGUAGES
from bot.nlu.organisation import fill

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.hours import OpeningHours

DOMAIN = "bot"
LOCALES: dict[str, str] = {
    "nl": "nl",
    "fr": "fr",
    "en": "en",
    "uk": "uk",
    "ps": "ps",
    "fa": "fa_AF",  # Dari: the Persian of Afghanistan
}
RTL_LANGUAGES = frozenset({"ps", "fa"})
LANGUAGE_NAMES: dict[str, str] = {  # each language in its own script, for the picker
    "nl": "Nederlands",
    "fr": "Français",
    "en": "English",
    "uk": "Українська",
    "ps": "پښتو",
    "fa": "دری",
}
RLI, PDI = "\u2067", "\u2069"
assert tuple(LOCALES) == LANGUAGES


def isolate(text: str, lang: str) -> str:
    """Wrap every non-empty line of right-to-left text in an RLI ... PDI isolate.

    Idempotent, and a no-op for left-to-right languages. Lines are wrapped one by
    one because a line break ends every isolate (Unicode bidi rule X8).
    """
    if lang not in RTL_LANGUAGES:
        return text
    return "\n".join(
        line if not line.strip() or line.startswith(RLI) else f"{RLI}{line}{PDI}"
        for line in text.split("\n")
    )


def strip_isolates(text: str) -> str:
    return text.replace(RLI, "").replace(PDI, "")


@lru_cache(maxsize=32)
def _load(locales_dir: Path, lang: str) -> NullTranslations:
    """The compiled catalog, or the ``.po`` compiled in memory when no ``.mo`` is newer."""
    folder = locales_dir / LOCALES[lang] / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fp:
            return Translations(fp, domain=DOMAIN)
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=LOCALES[lang], domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


class Speaker:
    """Says things in one language: translated, filled in, wrapped for RTL."""

    def __init__(self, locales_dir: Path, lang: str) -> None:
        self.lang = lang if lang in LOCALES else "en"
        self.locale = Locale.parse(LOCALES[self.lang])
        self._translations = _load(Path(locales_dir), self.lang)

    def gettext(self, message: str, **values: Any) -> str:
        return isolate(self._fill(self._translations.gettext(message), values), self.lang)

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = self._translations.ngettext(singular, plural, n)
        return isolate(self._fill(text, {"n": n, **values}), self.lang)

    def say(self, message: str | Mapping[str, str], **values: Any) -> str:
        """A message from a flow: a plain string, or ``{one: ..., other: ..., count: name}``."""
        if isinstance(message, str):
            return self.gettext(message, **values)
        return self.ngettext(
            message["one"], message["other"], int(values[message["count"]]), **values
        )

    def when(self, moment: datetime, timezone: str) -> str:
        """A weekday and a time, e.g. "maandag 09:00", in this language."""
        return format_datetime(moment, "EEEE HH:mm", tzinfo=ZoneInfo(timezone), locale=self.locale)

    @staticmethod
    def _fill(text: str, values: Mapping[str, Any]) -> str:
        return text.format_map(values) if values else text


@lru_cache(maxsize=64)
def speaker(locales_dir: Path, lang: str) -> Speaker:
    return Speaker(locales_dir, lang)


# --- Message extraction: `pybabel extract -F babel.cfg` reads flows/*.yaml with this ---

SAYING_KEYS = ("say", "say_in_every_language", "fallback")


def extract_flow_messages(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, Any, list[str]]]:
    """A Babel extractor: the strings a flow says (``say``, button ``title`` ...)."""
    source = fileobj.read().decode("utf-8")
    lines = source.splitlines()
    for message in _sayings(yaml.safe_load(source)):
        lineno = _line_of(lines, message)
        if isinstance(message, str):
            yield lineno, "gettext", message, []
        else:
            yield lineno, "ngettext", (message["one"], message["other"]), []


def _sayings(node: Any) -> Iterator[str | dict[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SAYING_KEYS:
                yield from _lines(value)
            elif key == "title" and isinstance(value, str):
                yield value
            else:
                yield from _sayings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _sayings(item)


def _lines(say: Any) -> Iterator[str | dict[str, str]]:
    """A ``say``'s messages: one, or a list of lines (``{text: ..., when: ...}`` too)."""
    for line in say if isinstance(say, list) else [say]:
        yield line["text"] if isinstance(line, dict) and "text" in line else line


def _line_of(lines: list[str], message: str | dict[str, str]) -> int:
    first = message if isinstance(message, str) else message["one"]
    needle = first.split("\n", 1)[0][:40]
    for number, line in enumerate(lines, start=1):
        if needle and needle in line:
            return number
    return 1


# --- What knowledge-base answers and flow texts fill in by name -------------------


def answer_details(settings: Settings, hours: OpeningHours, lang: str) -> dict[str, str]:
    """The organisation's configured details (``{org_phone}``) and the opening hours
    (``{opening_hours}``), in ``lang``."""
    locale = speaker(settings.locales_dir, lang).locale
    return {**settings.organisation_details(lang), "opening_hours": hours.describe(locale)}


def answer_text(settings: Settings, hours: OpeningHours, answer: str, lang: str) -> str:
    """A knowledge-base answer as the person reads it: the organisation's details filled
    in, a line that needs a detail not configured left out (``bot.nlu.organisation``)."""
    return fill(answer, answer_details(settings, hours, lang))
