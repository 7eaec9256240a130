"""``helpline broadcast`` and ``helpline staff broadcaster``: the contract scripts rely on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from bot.cli import app as cli
from bot.config import LANGUAGES, Settings
from bot.models import AuditEntry, Broadcast, StaffUser, utcnow
from tests.broadcasts.people import add_people, run_broadcast_job

TEXTS = """\
nl: Het aanmeldcentrum is verhuisd.
fr: Le centre d'enregistrement a déménagé.
en: The registration centre has moved.
uk: Центр реєстрації переїхав.
"""


def run(runner: CliRunner, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(cli, list(args), input=stdin, catch_exceptions=False)


def output(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, "one JSON object on one line"
    return json.loads(lines[0])


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "texts.yaml"
    path.write_text(TEXTS, encoding="utf-8")
    return path


def test_send_prints_the_id_and_who_is_targeted_per_language(
    helpline_cli: CliRunner, engine: Engine, settings: Settings, text_file: Path
) -> None:
    add_people(engine, settings, 12, channel="telegram")
    add_people(engine, settings, 6, channel="whatsapp", start=100)

    sent = output(run(helpline_cli, "broadcast", "send", "--text-file", str(text_file), "--yes"))

    assert {"id", "targeted", "by_language"} <= sent.keys()
    assert sent["targeted"] == 12  # nl fr en uk: 3 + 3 + 3 + 3; ps and fa have no text
    assert set(sent["by_language"]) == set(LANGUAGES)
    assert sent["by_language"]["nl"] == {"audience": 3, "targeted": 3, "has_text": True}
    assert sent["by_language"]["ps"] == {"audience": 3, "targeted": 0, "has_text": False}
    assert sent["not_reached_for_want_of_a_text"] == 6
    with Session(engine) as session:
        broadcast = session.get(Broadcast, sent["id"])
        assert broadcast is not None and broadcast.status == "scheduled"
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "broadcast")).one()
    assert entry.target == f"broadcast:{sent['id']}"
    assert json.loads(entry.detail or "")["targeted"] == 12


def test_filters_narrow_the_audience(
    helpline_cli: CliRunner, engine: Engine, settings: Settings, text_file: Path
) -> None:
    add_people(engine, settings, 6, channel="telegram", topic="asylum.apply.registration")
    add_people(engine, settings, 6, channel="whatsapp", start=100)

    sent = output(
        run(
            helpline_cli,
            *("broadcast", "send", "--text-file", str(text_file), "--yes"),
            *("--channel", "telegram", "--topic", "asylum.apply", "--since-days", "7"),
        )
    )
    counted = output(run(helpline_cli, "broadcast", "count", "--channel", "whatsapp"))

    assert sent["targeted"] == 4
    assert counted == {"audience": 6, "by_language": {lang: 1 for lang in LANGUAGES}}


def test_report_prints_the_figures_as_json(
    helpline_cli: CliRunner, engine: Engine, settings: Settings, text_file: Path
) -> None:
    add_people(engine, settings, 6, channel="telegram")
    sent = output(run(helpline_cli, "broadcast", "send", "--text-file", str(text_file), "--yes"))
    run_broadcast_job(engine, settings, utcnow())

    report = output(run(helpline_cli, "broadcast", "report", str(sent["id"]), "--json"))

    assert report["id"] == sent["id"] and report["status"] == "done"
    assert report["targeted"] == 4
    assert report["by_language"]["nl"]["targeted"] == 1
    assert {"sent", "delivered", "failed", "opted_out", "replied"} <= report.keys()
    assert set(report["by_language"]) == {"nl", "fr", "en", "uk"}


def test_a_later_time_waits_and_cancel_stops_it(
    helpline_cli: CliRunner, engine: Engine, settings: Settings, text_file: Path
) -> None:
    add_people(engine, settings, 6, channel="telegram")
    at = "2099-01-04T09:00:00+01:00"

    sent = output(
        run(helpline_cli, "broadcast", "send", "--text-file", str(text_file), "--at", at, "--yes")
    )
    run_broadcast_job(engine, settings, utcnow())
    cancelled = output(run(helpline_cli, "broadcast", "cancel", str(sent["id"])))
    run_broadcast_job(engine, settings, datetime(2099, 1, 5, tzinfo=UTC))

    assert sent["scheduled_at"] == "2099-01-04T08:00:00+00:00"
    assert cancelled == {"id": sent["id"], "status": "cancelled", "not_sent": 0}
    report = output(run(helpline_cli, "broadcast", "report", str(sent["id"]), "--json"))
    assert report["status"] == "cancelled" and report["targeted"] == 0


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("xx: hello\n", "unknown language: xx"),
        ("nl: ''\n", "no text in any language"),
        ("- nl\n", "expected language codes"),
    ],
)
def test_a_bad_text_file_is_refused_with_the_reason(
    helpline_cli: CliRunner, tmp_path: Path, content: str, complaint: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")

    result = run(helpline_cli, "broadcast", "send", "--text-file", str(path), "--yes")

    assert result.exit_code == 2
    assert complaint in result.stderr


def test_a_time_without_its_offset_is_refused(helpline_cli: CliRunner, text_file: Path) -> None:
    result = run(
        helpline_cli,
        *("broadcast", "send", "--text-file", str(text_file), "--at", "2099-01-04T09:00", "--yes"),
    )

    assert result.exit_code == 2 and "offset" in result.stderr


def test_staff_broadcaster_grants_and_withdraws_the_permission(
    helpline_cli: CliRunner, engine: Engine
) -> None:
    password = "a long enough password"
    assert run(helpline_cli, "staff", "add", "sam@example.org", stdin=password).exit_code == 0
    assert (
        run(helpline_cli, "staff", "add", "kim@example.org", "--broadcaster", stdin=password)
    ).exit_code == 0

    granted = run(helpline_cli, "staff", "broadcaster", "sam@example.org")
    withdrawn = run(helpline_cli, "staff", "broadcaster", "kim@example.org", "--off")

    assert granted.exit_code == 0 and withdrawn.exit_code == 0
    with Session(engine) as session:
        users = {u.email: u.can_broadcast for u in session.exec(select(StaffUser)).all()}
    assert users == {"sam@example.org": True, "kim@example.org": False}
