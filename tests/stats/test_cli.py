"""``helpline stats`` and ``helpline contacts import``, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.models import ContactRecord
from tests.stats.helpers import FIXTURE_2024

HEADER = "started_at,channel,language,topic,handled_by,participants\n"


@pytest.fixture
def helpline(helpline_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("HELPLINE_TIMEZONE", "Europe/Brussels")
    return helpline_cli


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def count_records(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(ContactRecord)).one()


def test_importing_the_2024_year_prints_the_annual_report_figures(
    helpline: CliRunner, engine: Engine
) -> None:
    imported = run(helpline, "contacts", "import", str(FIXTURE_2024))
    assert imported.exit_code == 0, imported.output
    assert "imported 6389 contact records" in imported.output

    table = run(helpline, "stats", "--year", "2024")

    assert table.exit_code == 0
    lines = {line.split("  ")[0].strip(): line.split() for line in table.output.splitlines()}
    assert lines["Phone calls"][-2:] == ["4,896", "408"]
    assert lines["Chat messages"][-2:] == ["660", "55"]
    assert lines["E-mails"][-2:] == ["819", "68"]
    assert lines["Total"][-2:] == ["6,375", "531"]
    assert "Q&A sessions: 14, with 31 participants on average and 62 at most." in table.output
    assert "4,896 phone calls (avg 408/month)" in table.output


def test_stats_json_has_exactly_the_agreed_keys_and_the_2024_figures(
    helpline: CliRunner,
) -> None:
    run(helpline, "contacts", "import", str(FIXTURE_2024))

    figures = json.loads(run(helpline, "stats", "--year", "2024", "--json").output)

    assert set(figures) == {
        "year",
        "staff",
        "bot",
        "qa_sessions",
        "by_language",
        "by_topic",
        "chat_outcomes",
        "first_staff_answer_median_s",
    }
    assert set(figures["staff"]) == {"phone", "chat", "email", "total"}
    assert set(figures["staff"]["phone"]) == {"total", "monthly_avg", "per_month"}
    assert set(figures["staff"]["chat"]) == {"total", "monthly_avg", "per_month", "by_channel"}
    assert set(figures["staff"]["total"]) == {"total", "monthly_avg"}
    assert set(figures["bot"]) == {"conversations", "resolved", "handed_off"}
    assert set(figures["qa_sessions"]) == {"sessions", "participants_avg", "participants_max"}
    assert figures["year"] == 2024
    staff = figures["staff"]
    assert (staff["phone"]["total"], staff["phone"]["monthly_avg"]) == (4896, 408)
    assert (staff["chat"]["total"], staff["chat"]["monthly_avg"]) == (660, 55)
    assert (staff["email"]["total"], staff["email"]["monthly_avg"]) == (819, 68)
    assert staff["total"] == {"total": 6375, "monthly_avg": 531}
    assert sum(staff["phone"]["per_month"]) == 4896 and len(staff["phone"]["per_month"]) == 12
    assert staff["chat"]["by_channel"] == {"whatsapp": 470, "telegram": 190, "webchat": 0}
    assert figures["qa_sessions"] == {
        "sessions": 14,
        "participants_avg": 31,
        "participants_max": 62,
    }
    assert figures["bot"] == {"conversations": 0, "resolved": 0, "handed_off": 0}
    assert figures["chat_outcomes"] == {
        "resolved_by_bot": 0,
        "answered_by_staff": 660,  # the imported chats staff answered
        "waiting": 0,
        "abandoned": 0,
    }
    assert figures["first_staff_answer_median_s"] is None  # history has no times
    assert sum(figures["by_language"].values()) == 6389
    assert figures["by_topic"]["asylum.apply"] > 0


def test_another_year_is_empty(helpline: CliRunner) -> None:
    run(helpline, "contacts", "import", str(FIXTURE_2024))

    figures = json.loads(run(helpline, "stats", "--year", "2023", "--json").output)

    assert figures["staff"]["total"] == {"total": 0, "monthly_avg": 0}
    assert figures["staff"]["phone"]["per_month"] == [0] * 12


def test_a_file_with_bad_rows_names_each_line_and_imports_nothing(
    helpline: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    file = tmp_path / "history.csv"
    file.write_text(
        HEADER
        + "2024-03-01T10:00,phone,nl,asylum.apply,staff,\n"  # line 2: fine
        + "2024-03-01T10:05,fax,nl,asylum.apply,staff,\n"  # line 3: unknown channel
        + "yesterday,email,fr,,staff,\n"  # line 4: bad time
        + "2024-03-02,qa_session,uk,,staff,\n"  # line 5: session without participants
        + "2024-03-02,phone,nl,,bot,\n"  # line 6: the bot answers no phone
        + "2024-03-02,email,xx,,staff,3\n",  # line 7: bad language, participants
        encoding="utf-8",
    )

    result = run(helpline, "contacts", "import", str(file))

    assert result.exit_code == 1
    for line, words in (
        (3, "fax"),
        (4, "yesterday"),
        (5, "participants"),
        (6, "bot does not handle phone"),
        (7, "language"),
        (7, "participants is only for qa_session"),
    ):
        assert any(f"line {line}:" in out and words in out for out in result.output.splitlines()), (
            line,
            words,
            result.output,
        )
    assert "line 2:" not in result.output
    assert "nothing imported" in result.output
    assert count_records(engine) == 0


def test_a_file_without_the_agreed_header_is_refused(
    helpline: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    file = tmp_path / "history.csv"
    file.write_text("date,channel,language\n2024-03-01,phone,nl\n", encoding="utf-8")

    result = run(helpline, "contacts", "import", str(file))

    assert result.exit_code == 1
    assert "line 1:" in result.output and "missing: started_at" in result.output
    assert count_records(engine) == 0


def test_dry_run_checks_the_file_and_stores_nothing(helpline: CliRunner, engine: Engine) -> None:
    result = run(helpline, "contacts", "import", "--dry-run", str(FIXTURE_2024))

    assert result.exit_code == 0
    assert "6389 rows are fine" in result.output
    assert count_records(engine) == 0


def test_stats_can_write_the_report_as_csv_and_xlsx(helpline: CliRunner, tmp_path: Path) -> None:
    run(helpline, "contacts", "import", str(FIXTURE_2024))

    result = run(
        helpline,
        "stats",
        "--year",
        "2024",
        "--csv",
        str(tmp_path / "r.csv"),
        "--xlsx",
        str(tmp_path / "r.xlsx"),
    )

    assert result.exit_code == 0
    assert "staff,total," in (tmp_path / "r.csv").read_text(encoding="utf-8")
    assert (tmp_path / "r.xlsx").read_bytes().startswith(b"PK")
