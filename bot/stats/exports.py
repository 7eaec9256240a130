"""Reports and contact records as CSV and XLSX files (openpyxl), for spreadsheets.

Two kinds of export: the report itself (the table of the annual report, then the
bot's work, Q&A sessions, languages and topics), and one row per contact record of
the period. Contact records hold no personal data, and the export leaves out even
the links to conversations and staff accounts.

Text is never a formula: a text cell that starts with ``= + - @``, a tab or a
carriage return (a place staff typed as ``=HYPERLINK(...)``) gets a leading ``'``
(OWASP's advice against CSV injection), in both formats, and XLSX text cells are
written as strings, never inferred as formulas. Numbers and dates stay what they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from bot.models import ContactRecord, HandledBy
from bot.stats.reports import CHAT_CHANNELS, Period, Report

Cell = str | int | float | datetime | None

STAFF_ROWS = ("phone", "chat", *(f"chat:{channel}" for channel in CHAT_CHANNELS), "email", "total")
RECORD_COLUMNS = (
    "id",
    "started_at",
    "channel",
    "language",
    "topic",
    "handled_by",
    "handed_off",
    "urgent",
    "first_response_seconds",
    "resolution_seconds",
    "minutes",
    "participants",
    "place",
    "source",
    # added with the definitions of docs/statistics.md (the columns above keep their place)
    "first_staff_answer_seconds",  # handoff -> first staff message
    "bot_first_answer_seconds",  # start -> the bot's first reply
    "outcome",  # chosen at closing (staff), or resolved_by_bot (the idle close)
    "chat_outcome",  # where a chat stands now: resolved_by_bot, answered_by_staff, ...
)
# What the columns above are read from (durations from their end times; ``handed_off_at``
# and ``bot_first_response_at`` stand in the places of the durations computed from them).
COMPUTED_FROM = {
    "first_response_seconds": "first_response_at",
    "resolution_seconds": "closed_at",
    "first_staff_answer_seconds": "handed_off_at",
    "bot_first_answer_seconds": "bot_first_response_at",
    "chat_outcome": "id",
}
RECORD_FIELDS = tuple(COMPUTED_FROM.get(column, column) for column in RECORD_COLUMNS)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: Cell) -> Cell:
    """A text that a spreadsheet would take for a formula, as plain text (``'`` first)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


def _xlsx_row(sheet: Worksheet | WriteOnlyWorksheet, row: Iterable[Cell]) -> list[Any]:
    """A row to append: text neutralised and stored as a string, other values as they are.

    openpyxl stores text as a string unless it starts with ``=`` (a formula, which
    ``neutralise`` leaves none of) or is an error code such as ``#N/A``: only those get
    a cell typed by hand (a cell object for every text would slow big exports down).
    """
    cells: list[Any] = []
    for value in row:
        value = neutralise(value)
        if isinstance(value, str) and (value.startswith("=") or value in ERROR_CODES):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            value = cell
        cells.append(value)
    return cells


def report_rows(report: Report) -> list[list[Cell]]:
    """The report as a table: section, line, one column per month, total, monthly average."""
    months: list[Cell] = [f"{month:%Y-%m}" for month in report.months]
    blank: list[Cell] = [None] * len(months)
    rows: list[list[Cell]] = [["section", "line", *months, "total", "monthly_avg"]]
    for name in STAFF_ROWS:
        line = report.line(name.removeprefix("chat:"))
        rows.append(["staff", name, *line.per_month, line.total, line.monthly_avg])
    bot_line = report.bot_line()
    rows.append(["bot", "handled_alone", *bot_line.per_month, bot_line.total, bot_line.monthly_avg])

    def single(section: str, name: str, value: Cell) -> None:
        rows.append([section, name, *blank, value, None])

    work = report.bot_work
    single("bot", "conversations", work.conversations)
    single("bot", "resolved", work.resolved)
    single("bot", "handed_off", work.handed_off)
    single("qa_sessions", "sessions", report.qa.sessions)
    single("qa_sessions", "participants_avg", report.qa.participants_avg)
    single("qa_sessions", "participants_max", report.qa.participants_max)
    single("qa_sessions", "participants_total", report.qa.participants_total)
    single("times", "median_first_response_seconds", report.median_first_response)
    single("times", "median_resolution_seconds", report.median_resolution)
    for channel, minutes in sorted(report.minutes.items()):
        if minutes:
            single("minutes", channel, minutes)
    for key, split in report.by_language.items():
        single("by_language", key, split.total)
    for key, split in report.by_topic.items():
        single("by_topic", key, split.total)
    # Added with the definitions of docs/statistics.md, after the rows above.
    for name, count in vars(report.chat_outcomes).items():
        single("chat_outcomes", name, count)
    single("times", "median_first_staff_answer_seconds", report.median_first_response)
    single("times", "median_bot_first_answer_seconds", report.median_bot_first_answer)
    for name, count in report.outcomes.items():
        single("outcomes", name, count)
    for key, counts in report.outcomes_by_channel.items():
        for name, count in counts.items():
            single("outcomes:channel", f"{key}:{name}", count)
    for key, counts in report.outcomes_by_language.items():
        for name, count in counts.items():
            single("outcomes:language", f"{key}:{name}", count)
    return rows


def report_csv(report: Report) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        [neutralise(cell) for cell in row] for row in report_rows(report)
    )
    return out.getvalue()


def report_xlsx(report: Report) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Report"
    for row in report_rows(report):
        sheet.append(_xlsx_row(sheet, row))
    for title, counts in (("Languages", report.by_language), ("Topics", report.by_topic)):
        split_sheet = workbook.create_sheet(title)
        split_sheet.append([title.lower()[:-1], "staff", "bot", "total", "unanswered"])
        for key, split in counts.items():
            cells: list[Cell] = [key, split.staff, split.bot, split.total, split.unanswered]
            split_sheet.append(_xlsx_row(split_sheet, cells))
    outcomes = workbook.create_sheet("Outcomes")
    outcomes.append(["by", "key", "outcome", "conversations"])
    for by, groups in (
        ("channel", report.outcomes_by_channel),
        ("language", report.outcomes_by_language),
    ):
        for key, chosen in groups.items():
            for name, count in chosen.items():
                outcomes.append(_xlsx_row(outcomes, [by, key, name, count]))
    return _save(workbook)


def record_rows(session: Session, period: Period, tz: ZoneInfo) -> Iterator[tuple[Cell, ...]]:
    """One tuple per contact record of the period (columns ``RECORD_COLUMNS``), oldest first."""
    start, end = period.bounds(tz)
    query = (
        select(*[getattr(ContactRecord, name) for name in RECORD_FIELDS])
        .where(col(ContactRecord.started_at) >= start, col(ContactRecord.started_at) < end)
        .order_by(col(ContactRecord.started_at), col(ContactRecord.id))
        .execution_options(yield_per=2000)
    )
    for row in session.execute(query):
        (id_, started, channel, language, topic, handled_by, handed_off, urgent) = row[:8]
        first_response, closed, minutes, participants, place, source = row[8:14]
        handed_off_at, bot_first, outcome = row[14:17]
        yield (
            id_,
            started.astimezone(tz).replace(tzinfo=None),
            channel,
            language,
            topic,
            handled_by,
            int(handed_off),
            int(urgent),
            _seconds(started, first_response),
            _seconds(started, closed),
            minutes,
            participants,
            place,
            source,
            _seconds(handed_off_at, first_response) if handed_off_at else None,
            _seconds(started, bot_first),
            outcome,
            chat_outcome(channel, handled_by, bool(handed_off), closed is not None, source),
        )


def chat_outcome(
    channel: str, handled_by: str, handed_off: bool, closed: bool, source: str
) -> str | None:
    """Where one chat stands (docs/statistics.md); None for other channels."""
    if channel not in CHAT_CHANNELS:
        return None
    if handled_by == HandledBy.staff:
        return "answered_by_staff"
    if handed_off:
        return "abandoned" if closed else "waiting"
    return "resolved_by_bot" if closed or source == "import" else "with_bot"


def _seconds(start: datetime, end: datetime | None) -> int | None:
    return None if end is None else round((end - start).total_seconds())


def records_csv(engine: Engine, period: Period, tz: ZoneInfo) -> Iterator[str]:
    """The records as CSV text, in chunks (for a streamed download)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RECORD_COLUMNS)
    with Session(engine) as session:
        for count, row in enumerate(record_rows(session, period, tz), start=1):
            writer.writerow(_text_cells(row))
            if count % 2000 == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
    yield out.getvalue()


def _text_cells(row: tuple[Cell, ...]) -> list[Any]:
    return [
        cell.isoformat(sep=" ") if isinstance(cell, datetime) else neutralise(cell) for cell in row
    ]


def records_xlsx(engine: Engine, period: Period, tz: ZoneInfo) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Contacts")
    sheet.append(RECORD_COLUMNS)
    with Session(engine) as session:
        for row in record_rows(session, period, tz):
            sheet.append(_xlsx_row(sheet, row))
    return _save(workbook)


def _save(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
