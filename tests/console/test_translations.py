"""The console speaks Dutch, French and English, and its catalogs are complete."""

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from bot.config import PROJECT_HOME
from bot.console.i18n import CONSOLE_LOCALES, extract, negotiate
from tests.support.staff import Staff, csrf_token

LOCALES = PROJECT_HOME / "locales"


def catalog_ids(path: Path) -> set[str]:
    with path.open("rb") as fp:
        return {m.id for m in read_po(fp) if m.id}  # type: ignore[misc]


def test_the_template_holds_every_console_string() -> None:
    extracted = {m.id for m in extract() if m.id}
    missing = extracted - catalog_ids(LOCALES / "console.pot")
    assert not missing, f"run `make console-catalogs`: {sorted(missing)[:5]}"


@pytest.mark.parametrize("locale", [code for code in CONSOLE_LOCALES if code != "en"])
def test_every_console_string_is_translated(locale: str) -> None:
    path = LOCALES / locale / "LC_MESSAGES" / "console.po"
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    untranslated = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert not untranslated
    assert {m.id for m in extract() if m.id} <= catalog_ids(path)


def test_the_login_page_follows_the_browser_language(client: TestClient) -> None:
    french = client.get("/console/login", headers={"accept-language": "fr-BE,fr;q=0.9,en;q=0.5"})
    assert "Mot de passe" in french.text
    assert '<html lang="fr">' in french.text
    dutch = client.get("/console/login", headers={"accept-language": "nl-BE"})
    assert "Wachtwoord" in dutch.text
    english = client.get("/console/login", headers={"accept-language": "en"})
    assert "Password" in english.text


def test_staff_switch_the_console_language_and_keep_it(alice: Staff) -> None:
    assert "Waiting" in alice.get("/console/queue").text
    response = alice.post("/console/locale", {"locale": "nl", "back": "/console/queue"})
    assert response.headers["location"] == "/console/queue"
    assert "Wachtend" in alice.get("/console/queue").text
    alice.post("/console/locale", {"locale": "fr"})
    assert "File d'attente" in alice.get("/console/queue").text


def test_an_unknown_console_language_is_refused(alice: Staff) -> None:
    assert alice.post("/console/locale", {"locale": "xx"}).status_code == 400


def test_error_pages_are_translated(client: TestClient) -> None:
    csrf_token(client)
    response = client.post(
        "/console/login",
        data={"email": "a@example.org", "password": "x" * 12},
        headers={"accept": "text/html", "accept-language": "nl"},
    )
    assert response.status_code == 403
    assert "Het formulier is verlopen" in response.text


def test_browser_language_negotiation_falls_back_to_dutch() -> None:
    assert negotiate("") == "nl"
    assert negotiate("de-DE,de;q=0.9") == "nl"
    assert negotiate("de;q=0.9,fr;q=0.8") == "fr"
    assert negotiate("en;q=0.2,fr;q=0.8") == "fr"
