"""Everything the bot says is translated into all six languages, and up to date."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.config import PROJECT_HOME
from bot.i18n import LOCALES, PDI, RLI, isolate, speaker

LOCALES_DIR = PROJECT_HOME / "locales"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PASHTO_ONLY_LETTERS = re.compile("[ټډړږښګڼېۍځڅ]")


def extracted_ids() -> set[str]:
    """What `make catalogs` would extract from the code now."""
    with (PROJECT_HOME / "babel.cfg").open() as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj)
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        PROJECT_HOME, method_map, options_map
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=locale, domain="bot")


def ids(catalog: Catalog) -> set[str]:
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}


def test_the_template_is_up_to_date_with_the_flows() -> None:
    extracted = extracted_ids()

    assert len(extracted) > 30
    assert ids(read(LOCALES_DIR / "bot.pot")) == extracted, "run `make catalogs`"


@pytest.mark.parametrize("locale", LOCALES.values())
def test_every_string_is_translated(locale: str) -> None:
    catalog = read(LOCALES_DIR / locale / "LC_MESSAGES" / "bot.po", locale)

    assert ids(catalog) == extracted_ids(), "run `make catalogs`, then translate"
    for message in catalog:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(forms), f"{locale}: untranslated {message.id!r}"
        assert "fuzzy" not in message.flags, f"{locale}: fuzzy {message.id!r}"
        source = message.id[-1] if isinstance(message.id, tuple) else message.id
        for form in forms:
            assert set(PLACEHOLDER.findall(form)) == set(PLACEHOLDER.findall(source)), (
                f"{locale}: placeholders differ in {form!r}"
            )


@pytest.mark.parametrize("locale", LOCALES.values())
def test_plural_forms_follow_the_language(locale: str) -> None:
    from babel.messages.plurals import get_plural

    catalog = read(LOCALES_DIR / locale / "LC_MESSAGES" / "bot.po", locale)
    expected = get_plural(locale)

    assert catalog.num_plurals == expected.num_plurals
    for message in catalog:
        if isinstance(message.id, tuple):
            assert len(message.string) == expected.num_plurals


def test_plurals_pick_the_right_form() -> None:
    ukrainian = speaker(LOCALES_DIR, "uk")
    message = (
        "Our staff are not working right now. They are back in about {hours} hour ({back}) "
        "and will answer you here. In an emergency, call {emergency}."
    )
    plural = message.replace("{hours} hour ", "{hours} hours ")

    def say(n: int) -> str:
        return ukrainian.ngettext(message, plural, n, hours=n, back="пн", emergency="112")

    assert "1 годину" in say(1) and "3 години" in say(3) and "5 годин" in say(5)
    assert "21 годину" in say(21)


def test_dari_uses_no_pashto_only_letters() -> None:
    catalog = read(LOCALES_DIR / "fa_AF" / "LC_MESSAGES" / "bot.po", "fa_AF")
    for message in catalog:
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        for form in forms:
            assert not PASHTO_ONLY_LETTERS.search(form or ""), form


def test_dari_uses_afghan_words() -> None:
    text = " ".join(
        form
        for message in read(LOCALES_DIR / "fa_AF" / "LC_MESSAGES" / "bot.po", "fa_AF")
        for form in (message.string if isinstance(message.string, tuple) else (message.string,))
    )
    assert "تشکر" in text and "معلومات" in text
    assert "متشکرم" not in text and "اطلاعات" not in text and "بلژیک" not in text


@pytest.mark.parametrize(("lang", "wrapped"), [("ps", True), ("fa", True), ("nl", False)])
def test_right_to_left_text_is_isolated_line_by_line(lang: str, wrapped: bool) -> None:
    text = isolate("112\nInfolijn\n", lang)

    if wrapped:
        assert text == f"{RLI}112{PDI}\n{RLI}Infolijn{PDI}\n"
        assert isolate(text, lang) == text  # idempotent
    else:
        assert text == "112\nInfolijn\n"
