"""``helpline staff`` and ``helpline demo``, run as an administrator runs them."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from bot.cli import app as cli
from bot.config import Settings, get_settings
from bot.console.auth import MAX_FAILURES
from bot.demo import DEMO_EMAIL, PEOPLE
from bot.models import AuditEntry, Conversation, Message, StaffUser
from tests.support.staff import csrf_token, log_in

PASSWORD = "a long enough password"


@pytest.fixture
def helpline(helpline_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("HELPLINE_DEMO", "true")
    return helpline_cli


def run(runner: CliRunner, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(cli, list(args), input=stdin, catch_exceptions=False)


def test_staff_add_reads_the_password_from_stdin_and_the_account_can_log_in(
    helpline: CliRunner, engine: Engine, app: FastAPI
) -> None:
    result = run(helpline, "staff", "add", "Nadia@Example.org", "--role", "admin", stdin=PASSWORD)
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        user = session.exec(select(StaffUser)).one()
        assert (user.email, user.role) == ("Nadia@Example.org", "admin")
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert session.exec(select(AuditEntry.action)).all() == ["staff_added"]
    with TestClient(app) as client:
        log_in(client, "nadia@example.org", PASSWORD)


def test_staff_add_refuses_a_short_password_a_duplicate_and_an_unknown_role(
    helpline: CliRunner, engine: Engine
) -> None:
    assert run(helpline, "staff", "add", "a@example.org", stdin="short").exit_code == 1
    assert run(helpline, "staff", "add", "a@example.org", stdin=PASSWORD).exit_code == 0
    assert run(helpline, "staff", "add", "A@example.org", stdin=PASSWORD).exit_code == 1
    result = run(helpline, "staff", "add", "b@example.org", "--role", "boss", stdin=PASSWORD)
    assert result.exit_code == 1
    with Session(engine) as session:
        assert session.exec(select(StaffUser.email)).all() == ["a@example.org"]


def test_staff_add_makes_an_editor_who_can_log_in(
    helpline: CliRunner, engine: Engine, app: FastAPI
) -> None:
    result = run(helpline, "staff", "add", "e@example.org", "--role", "editor", stdin=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "created editor account e@example.org" in result.output
    with Session(engine) as session:
        assert session.exec(select(StaffUser.role)).all() == ["editor"]
    with TestClient(app) as client:
        log_in(client, "e@example.org", PASSWORD)
        assert client.get("/console/queue").status_code == 200  # staff like any other


def test_staff_list_shows_every_account_without_secrets(helpline: CliRunner) -> None:
    run(helpline, "staff", "add", "a@example.org", stdin=PASSWORD)
    run(helpline, "staff", "add", "b@example.org", "--role", "admin", stdin=PASSWORD)
    run(helpline, "staff", "deactivate", "a@example.org")
    output = run(helpline, "staff", "list").output
    assert "a@example.org\tstaff\tdeactivated" in output
    assert "b@example.org\tadmin\tactive" in output
    assert "argon2" not in output


def test_staff_password_clears_the_failed_logins(
    helpline: CliRunner, app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_SECRET_KEY", settings.secret_key)  # one deployment's secrets
    run(helpline, "staff", "add", "a@example.org", stdin=PASSWORD)
    with TestClient(app) as client:
        for n in range(MAX_FAILURES):
            token = csrf_token(client)
            client.post(
                "/console/login",
                data={"email": "a@example.org", "password": f"guess {n}", "csrf_token": token},
            )
        token = csrf_token(client)
        waiting = client.post(
            "/console/login",
            data={"email": "a@example.org", "password": PASSWORD, "csrf_token": token},
        )
        assert waiting.status_code == 429
        assert (
            run(helpline, "staff", "password", "a@example.org", stdin="another long one!").exit_code
            == 0
        )
        log_in(client, "a@example.org", "another long one!")


def test_demo_creates_an_account_printed_once_and_a_queue(
    helpline: CliRunner, engine: Engine, app: FastAPI
) -> None:
    first = run(helpline, "demo")
    assert first.exit_code == 0
    assert DEMO_EMAIL in first.output
    password = first.output.split("password:")[1].split()[0]
    second = run(helpline, "demo")
    assert password not in second.output
    assert "demo conversations added: 0" in second.output
    with Session(engine) as session:
        conversations = session.exec(select(Conversation).order_by(col(Conversation.id))).all()
        assert len(conversations) == len(PEOPLE)
        assert {c.language for c in conversations} >= {"ps", "fa", "uk", "fr", "nl"}
        assert [c.language for c in conversations if c.urgent] == ["ps"]
        assert session.exec(select(Message)).first() is not None
    with TestClient(app, headers={"accept": "text/html"}) as client:
        log_in(client, DEMO_EMAIL, password)
        page = client.get("/console/queue").text
    assert page.index("Pashto") < page.index("Dari")  # urgent first


def test_demo_is_skipped_when_turned_off(
    helpline: CliRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_DEMO", "false")
    get_settings.cache_clear()
    assert "no demo data" in run(helpline, "demo").output
    with Session(engine) as session:
        assert session.exec(select(StaffUser)).first() is None
