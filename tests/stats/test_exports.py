"""The exports carry the same figures as the report, and no personal data."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session

from bot.config import Settings
from bot.models import utcnow
from bot.stats.exports import RECORD_COLUMNS, records_csv, records_xlsx, report_csv, report_xlsx
from bot.stats.reports import Period, build_report
from tests.stats.helpers import BRUSSELS, FIXTURE_2024, chat, import_file

EXPECTED = {  # staff line: (total, monthly average), annual report 2024
    "phone": (4896, 408),
    "chat": (660, 55),
    "email": (819, 68),
    "total": (6375, 531),
}


def imported_2024(engine: Engine) -> None:
    with Session(engine) as session:
        import_file(session, FIXTURE_2024, utcnow())
        session.commit()


def lines_of(rows: list[list[object]]) -> dict[tuple[object, object], list[object]]:
    return {(row[0], row[1]): row[2:] for row in rows[1:]}


def test_report_csv_has_the_2024_figures(engine: Engine) -> None:
    imported_2024(engine)
    with Session(engine) as session:
        report = build_report(session, Period.year(2024), BRUSSELS)

    rows = list(csv.reader(io.StringIO(report_csv(report))))

    assert rows[0][2:] == [f"2024-{m:02}" for m in range(1, 13)] + ["total", "monthly_avg"]
    lines = lines_of(rows)  # type: ignore[arg-type]
    for name, (total, avg) in EXPECTED.items():
        assert lines["staff", name][-2:] == [str(total), str(avg)]
    assert lines["qa_sessions", "sessions"][-2] == "14"
    assert lines["qa_sessions", "participants_avg"][-2] == "31"
    assert lines["qa_sessions", "participants_max"][-2] == "62"


def test_report_xlsx_has_the_2024_figures_as_numbers(engine: Engine) -> None:
    imported_2024(engine)
    with Session(engine) as session:
        report = build_report(session, Period.year(2024), BRUSSELS)

    workbook = load_workbook(io.BytesIO(report_xlsx(report)), read_only=True)
    rows = [list(row) for row in workbook["Report"].iter_rows(values_only=True)]

    lines = lines_of(rows)
    for name, (total, avg) in EXPECTED.items():
        assert lines["staff", name][-2:] == [total, avg]
    assert lines["qa_sessions", "sessions"][-2] == 14
    assert lines["qa_sessions", "participants_avg"][-2] == 31
    assert lines["qa_sessions", "participants_max"][-2] == 62
    languages = list(workbook["Languages"].iter_rows(values_only=True))
    assert sum(row[3] for row in languages[1:]) == 6389  # type: ignore[misc]


def test_one_row_per_contact_record_in_both_formats(engine: Engine) -> None:
    imported_2024(engine)

    text = "".join(records_csv(engine, Period.year(2024), BRUSSELS))
    rows = list(csv.DictReader(io.StringIO(text)))
    workbook = load_workbook(
        io.BytesIO(records_xlsx(engine, Period.month(2024, 12), BRUSSELS)), read_only=True
    )
    december = list(workbook["Contacts"].iter_rows(values_only=True))

    assert len(rows) == 6389
    assert sum(row["channel"] == "phone" and row["handled_by"] == "staff" for row in rows) == 4896
    assert sum(row["channel"] == "qa_session" for row in rows) == 14
    assert rows[0]["started_at"].startswith("2024-01-01 ")
    assert december[0] == RECORD_COLUMNS
    assert len(december) - 1 == sum(row["started_at"].startswith("2024-12") for row in rows)


def test_record_exports_carry_no_personal_data(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        conversation = chat(session, settings, "+32470123456", utcnow(), channel="whatsapp")
        session.commit()
        year = conversation.opened_at.astimezone(BRUSSELS).year

    text = "".join(records_csv(engine, Period.year(year), BRUSSELS))

    assert len(text.splitlines()) == 2
    assert "+32470123456" not in text and "470123456" not in text
    for column in ("conversation_id", "staff_id", "contact", "address", "text", "name"):
        assert column not in RECORD_COLUMNS
