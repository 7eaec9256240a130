"""The console's own language (gettext domain ``console``), independent of the bot's.

Catalogs live in ``locales/<locale>/LC_MESSAGES/console.po``. A compiled ``.mo`` is
used when it is newer than its ``.po``; otherwise the ``.po`` is compiled in memory,
so a fresh checkout works without a build step.

``make console-catalogs`` (``main`` below) re-extracts ``locales/console.pot`` from the
console's Python and templates and updates every ``console.po``.
"""

from __future__ import annotations

import gettext
import io
import sys
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

DOMAIN = "console"
CONSOLE_LOCALES = ("nl", "fr", "en")
DEFAULT_LOCALE = "nl"
CONSOLE_DIR = Path(__file__).resolve().parent
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


LANGUAGE_NAMES = {
    "nl": N_("Dutch"),
    "fr": N_("French"),
    "en": N_("English"),
    "uk": N_("Ukrainian"),
    "ps": N_("Pashto"),
    "fa": N_("Dari"),
}
CONSOLE_LOCALE_NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English"}


@lru_cache(maxsize=32)
def translations(locales_dir: Path, locale: str) -> gettext.NullTranslations:
    folder = locales_dir / locale / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fp:
            return gettext.GNUTranslations(fp)
    if po.exists():
        with po.open("rb") as fp:
            catalog = read_po(fp, locale=locale, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return gettext.GNUTranslations(buffer)
    return gettext.NullTranslations()


def negotiate(accept_language: str) -> str:
    """The best console locale for an ``Accept-Language`` header."""
    weighted = []
    for part in accept_language.split(","):
        code, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        weighted.append((weight, code.strip().lower()[:2]))
    for _, code in sorted(weighted, key=lambda pair: -pair[0]):
        if code in CONSOLE_LOCALES:
            return code
    return DEFAULT_LOCALE


def extract() -> Catalog:
    """Every console string, from the console's Python modules and templates."""
    catalog = Catalog(project="helpline", domain=DOMAIN, charset="utf-8")
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
    for filename, lineno, message, comments, context in extract_from_dir(
        CONSOLE_DIR, METHOD_MAP, options, keywords=KEYWORDS, strip_comment_tags=True
    ):
        location = (f"bot/console/{filename}", lineno)
        catalog.add(message, None, [location], auto_comments=comments, context=context)
    return catalog


def update_catalogs(locales_dir: Path, locales: tuple[str, ...] = CONSOLE_LOCALES) -> None:
    template = extract()
    with (locales_dir / f"{DOMAIN}.pot").open("wb") as fp:
        write_po(fp, template, omit_header=False, sort_output=True, width=100)
    for locale in locales:
        path = locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as fp:
                catalog = read_po(fp, locale=locale, domain=DOMAIN)
            catalog.update(template, update_header_comment=False)
        else:
            catalog = Catalog(locale=locale, domain=DOMAIN, project="helpline", charset="utf-8")
            catalog.update(template)
        with path.open("wb") as fp:
            write_po(fp, catalog, sort_output=True, width=100, ignore_obsolete=True)


def main() -> None:
    """``make console-catalogs``: re-extract and update the console catalogs."""
    default = CONSOLE_DIR.parent.parent / "locales"
    update_catalogs(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
