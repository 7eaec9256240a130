"""No deployment runs on a public secret, and what was encrypted stays readable.

The secret key signs console sessions; the data key encrypts phone numbers and
Telegram ids (and keys the hash they are found by). Older versions fell back to a
placeholder secret, published in the source, everywhere but in production, and
derived the data key from it: whoever knew it could sign a session for any staff
member and decrypt a copy of the database. Outside the tests, a placeholder is now
refused, and an instance given no secrets generates its own on first start and keeps
them in ``<home>/var/secrets.json`` (private to the service's user).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import URLSafeTimedSerializer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot import db
from bot.cli import app as cli
from bot.config import PROJECT_HOME, Settings, get_settings
from bot.conversations import find_contact, get_or_create_contact
from bot.models import Contact
from bot.privacy.addresses import decrypt_address
from tests.support.factories import add_staff
from tests.support.serving import helpline_serve

PLACEHOLDER = "development-only-secret"  # what older versions used when none was set
NUMBER = "whatsapp:+32470555123"
CHAT_ID = "5550001234"
SECRET_VARIABLES = [
    f"HELPLINE_{name}{suffix}"
    for name in ("ENV", "HOME", "SECRET_KEY", "DATA_KEY", "OLD_DATA_KEYS")
    for suffix in ("", "_FILE")
]


@pytest.fixture(autouse=True)
def no_secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def development(home: Path, **overrides: object) -> Settings:
    return Settings(env="development", home=home, **overrides)  # type: ignore[arg-type]


def legacy_data_key(secret_key: str) -> str:
    """The data key older versions derived from the secret key when none was set."""
    digest = hashlib.sha256(("data-key:" + secret_key).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def hash_under(data_key: str, channel: str, address: str) -> str:
    key = hashlib.sha256(("address-hash:" + data_key).encode()).digest()
    return hmac.new(key, f"{channel}:{address}".encode(), hashlib.sha256).hexdigest()


# --- no placeholder, no public secret ---------------------------------------------------


@pytest.mark.parametrize("value", [PLACEHOLDER, "change-me"])
@pytest.mark.parametrize("name", ["secret_key", "data_key"])
def test_a_placeholder_secret_is_refused_in_development(home: Path, name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=f"HELPLINE_{name.upper()}"):
        development(home, **{name: value})


def test_a_placeholder_in_the_environment_is_refused_too(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_SECRET_KEY", PLACEHOLDER)
    with pytest.raises(ValidationError, match="HELPLINE_SECRET_KEY"):
        development(home)


def test_production_without_secrets_refuses_to_start(home: Path) -> None:
    with pytest.raises(ValidationError, match="HELPLINE_SECRET_KEY"):
        Settings(env="production", home=home)
    assert not (home / "var" / "secrets.json").exists()


def test_the_first_start_keeps_random_secrets_in_a_private_file_and_the_next_reads_them(
    home: Path,
) -> None:
    first = development(home)

    kept = home / "var" / "secrets.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert first.secret_key not in ("", PLACEHOLDER)
    assert len(first.secret_key) >= 32
    assert first.data_key != legacy_data_key(PLACEHOLDER)
    Fernet(first.data_key)  # a valid Fernet key
    again = development(home)
    assert (again.secret_key, again.data_key) == (first.secret_key, first.data_key)
    other = development(home.parent / "elsewhere")
    assert (other.secret_key, other.data_key) != (first.secret_key, first.data_key)


def test_processes_starting_together_end_up_with_the_same_secrets(home: Path) -> None:
    child = "from bot.config import Settings; s = Settings(); print(s.secret_key, s.data_key)"
    env = {**os.environ, "HELPLINE_HOME": str(home), "HELPLINE_ENV": "development"}
    started = [
        subprocess.Popen(
            [sys.executable, "-c", child],
            env=env,
            cwd=PROJECT_HOME,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120) for process in started]

    assert [process.returncode for process in started] == [0] * 4, outputs
    assert len({stdout for stdout, _ in outputs}) == 1
    assert [p.name for p in (home / "var").iterdir()] == ["secrets.json"]  # no leftovers


def test_an_operators_own_secrets_win_and_nothing_is_written(home: Path) -> None:
    data_key = Fernet.generate_key().decode()
    settings = development(home, secret_key="the-operators-own-secret", data_key=data_key)

    assert (settings.secret_key, settings.data_key) == ("the-operators-own-secret", data_key)
    assert not (home / "var").exists()


def test_a_secrets_file_others_may_read_is_refused(home: Path) -> None:
    development(home)
    kept = home / "var" / "secrets.json"
    kept.chmod(0o644)
    with pytest.raises(ValidationError, match="chmod 600"):
        development(home)


# --- the console --------------------------------------------------------------------------


def test_a_session_cookie_signed_with_the_public_placeholder_does_not_open_the_console(
    tmp_path: Path, home: Path
) -> None:
    """An instance started as ``make run`` starts one: no secret set, not production."""
    database = tmp_path / "helpline.db"
    engine = db.make_engine(f"sqlite:///{database}")
    db.upgrade(f"sqlite:///{database}")
    with Session(engine) as session:
        staff_id = add_staff(session, "coordinator@example.org", role="admin").id
        session.commit()
    engine.dispose()

    def cookie(secret: str) -> dict[str, str]:
        signed = URLSafeTimedSerializer(secret, salt="helpline-console-session").dumps(
            {"c": "x" * 32, "s": staff_id, "e": 0, "l": None}
        )
        return {"Cookie": f"helpline_console={signed}", "Accept": "text/html"}

    content = {
        f"HELPLINE_{name}_DIR": str(PROJECT_HOME / name.lower())
        for name in ("KNOWLEDGE", "FLOWS", "LOCALES")
    }
    with (
        helpline_serve(database, secret_key=None, HELPLINE_HOME=str(home), **content) as url,
        httpx.Client(base_url=url) as attacker,
    ):
        forged = attacker.get("/console/audit", headers=cookie(PLACEHOLDER))
        assert forged.status_code == 303
        assert forged.headers["location"].startswith("/console/login")
        kept = json.loads((home / "var" / "secrets.json").read_text())
        genuine = attacker.get("/console/audit", headers=cookie(kept["secret_key"]))
        assert genuine.status_code == 200  # the same cookie, signed with the instance's secret


# --- data encrypted under the old derived key -----------------------------------------------


def store_as_before(engine: Engine) -> None:
    """Two people as an older version stored them: under the key derived from the placeholder."""
    legacy = legacy_data_key(PLACEHOLDER)
    with Session(engine) as session:
        for channel, address in (("whatsapp", NUMBER), ("telegram", CHAT_ID)):
            session.add(
                Contact(
                    channel=channel,
                    address_hash=hash_under(legacy, channel, address),
                    address_enc=Fernet(legacy.encode()).encrypt(address.encode()).decode(),
                )
            )
        session.commit()


def rotate() -> str:
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["keys", "rotate"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def test_addresses_stored_under_the_old_derived_key_are_read_found_and_rotated(
    engine: Engine,
    database_url: str,
    home: Path,
    helpline_cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_as_before(engine)
    monkeypatch.setenv("HELPLINE_ENV", "development")
    monkeypatch.setenv("HELPLINE_HOME", str(home))
    settings = development(home, database_url=database_url)

    with Session(engine) as session:
        contact = find_contact(session, settings, "whatsapp", NUMBER)
        assert contact is not None
        assert decrypt_address(settings, contact.address_enc) == NUMBER
        again = get_or_create_contact(session, settings, "telegram", CHAT_ID)
        assert decrypt_address(settings, again.address_enc) == CHAT_ID
        assert len(session.exec(select(Contact)).all()) == 2  # found, not created anew

    output = rotate()

    assert "re-encrypted 2 " in output
    current = Fernet(settings.data_key.encode())
    with Session(engine) as session:
        for contact in session.exec(select(Contact)).all():
            address = current.decrypt(contact.address_enc.encode()).decode()
            assert contact.address_hash == hash_under(settings.data_key, contact.channel, address)
            with pytest.raises(InvalidToken):
                Fernet(legacy_data_key(PLACEHOLDER).encode()).decrypt(contact.address_enc.encode())
    # The old key is no longer kept, and everyone is still found and read without it.
    kept = json.loads((home / "var" / "secrets.json").read_text())
    assert kept["old_data_keys"] == []
    after = development(home, database_url=database_url)
    assert after.data_keys == [settings.data_key]
    with Session(engine) as session:
        contact = find_contact(session, after, "whatsapp", NUMBER)
        assert contact is not None
        assert decrypt_address(after, contact.address_enc) == NUMBER
    assert "re-encrypted 0 " in rotate()


def test_an_operator_rotates_to_a_new_data_key(
    engine: Engine,
    database_url: str,
    home: Path,
    helpline_cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = development(home, secret_key="operators-secret", data_key=old_key)
    with Session(engine) as session:
        get_or_create_contact(session, before, "whatsapp", NUMBER)
        session.commit()
    monkeypatch.setenv("HELPLINE_ENV", "production")
    monkeypatch.setenv("HELPLINE_HOME", str(home))
    monkeypatch.setenv("HELPLINE_SECRET_KEY", "operators-secret")
    monkeypatch.setenv("HELPLINE_DATA_KEY", new_key)
    monkeypatch.setenv("HELPLINE_OLD_DATA_KEYS", old_key)

    output = rotate()

    assert "re-encrypted 1 " in output
    assert "HELPLINE_OLD_DATA_KEYS" in output  # told it may now go
    after = Settings(env="production", home=home, secret_key="operators-secret", data_key=new_key)
    with Session(engine) as session:
        contact = find_contact(session, after, "whatsapp", NUMBER)
        assert contact is not None
        assert decrypt_address(after, contact.address_enc) == NUMBER
