"""``helpline stats`` (the yearly figures) and ``helpline contacts import`` (history)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import text
from sqlmodel import Session

from bot import db
from bot.config import get_settings
from bot.models import utcnow
from bot.stats import exports
from bot.stats.records import ImportRejected, import_records, read_import
from bot.stats.reports import CHAT_CHANNELS, Period, Report, Split, build_report, report_json

contacts_app = typer.Typer(help="Contact records for the statistics.", no_args_is_help=True)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SHOWN_PROBLEMS = 50


def stats(
    year: int | None = typer.Option(
        None, "--year", help="Calendar year to report (default: this year)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    csv_file: Path | None = typer.Option(None, "--csv", help="Also write the report as CSV."),
    xlsx_file: Path | None = typer.Option(None, "--xlsx", help="Also write the report as XLSX."),
) -> None:
    """The year's contacts in the shape of the annual report (section Infolijn)."""
    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            tz = ZoneInfo(settings.timezone)
            year = year or utcnow().astimezone(tz).year
            report = build_report(session, Period.year(year), tz)
    finally:
        engine.dispose()
    if csv_file is not None:
        csv_file.write_text(exports.report_csv(report), encoding="utf-8")
    if xlsx_file is not None:
        xlsx_file.write_bytes(exports.report_xlsx(report))
    if as_json:
        typer.echo(json.dumps(report_json(report), ensure_ascii=False))
    else:
        typer.echo(format_report(report))


def _n(value: int) -> str:
    return f"{value:,}"


def format_report(report: Report) -> str:
    """A plain-text table: a column per month, the year's total and the monthly average."""
    year = report.period.start.year
    labels = (
        MONTHS
        if report.period.is_year
        else tuple(f"{m:%Y-%m}" for m in report.months)  # a shorter or longer period
    )
    width = max(6, *(len(_n(count)) + 2 for count in report.line("total").per_month))
    header = "".ljust(16) + "".join(label.rjust(width) for label in labels)
    header += "total".rjust(9) + "per month".rjust(11)

    def row(title: str, counts: tuple[int, ...], total: int, avg: int) -> str:
        cells = "".join(_n(count).rjust(width) for count in counts)
        return title.ljust(16) + cells + _n(total).rjust(9) + _n(avg).rjust(11)

    lines = [f"Infolijn {year}: contacts handled by staff", "", header]
    for name, title in (("phone", "Phone calls"), ("chat", "Chat messages")):
        line = report.line(name)
        lines.append(row(title, line.per_month, line.total, line.monthly_avg))
    for channel in CHAT_CHANNELS:
        line = report.line(channel)
        lines.append(row(f"  {channel}", line.per_month, line.total, line.monthly_avg))
    for name, title in (("email", "E-mails"), ("total", "Total")):
        line = report.line(name)
        lines.append(row(title, line.per_month, line.total, line.monthly_avg))

    phone, chat, email, total = (report.line(n) for n in ("phone", "chat", "email", "total"))
    qa, bot = report.qa, report.bot_work
    lines += [
        "",
        f"In {year} staff answered {_n(phone.total)} phone calls (avg {_n(phone.monthly_avg)}"
        f"/month), {_n(chat.total)} chat messages (avg {_n(chat.monthly_avg)}/month) and "
        f"{_n(email.total)} e-mails (avg {_n(email.monthly_avg)}/month): {_n(total.total)} "
        f"in all (avg {_n(total.monthly_avg)}/month).",
        f"Q&A sessions: {_n(qa.sessions)}, with {_n(qa.participants_avg)} participants on "
        f"average and {_n(qa.participants_max)} at most.",
        f"Bot: {_n(bot.conversations)} chat conversations, {_n(bot.resolved)} resolved by the "
        f"bot alone, {_n(bot.handed_off)} handed to staff.",
        "",
        "By language: " + _ranking(report.by_language),
        "By topic:    " + _ranking(report.by_topic),
    ]
    return "\n".join(lines)


def _ranking(counts: dict[str, Split]) -> str:
    if not counts:
        return "-"
    return ", ".join(f"{key} {_n(split.total)}" for key, split in counts.items())


@contacts_app.command("import")
def import_file(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="CSV file to import."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the file, import nothing."),
) -> None:
    """Import historical contact records: started_at,channel,language,topic,handled_by,participants.

    Every row is checked first; if any is bad, each bad row is listed with its line
    number and nothing is imported.
    """
    settings = get_settings()
    try:
        with file.open(encoding="utf-8-sig", newline="") as lines:
            rows = read_import(lines, ZoneInfo(settings.timezone))
    except UnicodeDecodeError:
        typer.echo(f"{file}: not UTF-8 text; nothing imported", err=True)
        raise typer.Exit(1) from None
    except ImportRejected as rejected:
        for problem in rejected.problems[:SHOWN_PROBLEMS]:
            typer.echo(f"{file}:{problem}", err=True)
        if len(rejected.problems) > SHOWN_PROBLEMS:
            typer.echo(f"... and {len(rejected.problems) - SHOWN_PROBLEMS} more", err=True)
        typer.echo(f"{len(rejected.problems)} bad row(s): nothing imported", err=True)
        raise typer.Exit(1) from None
    if dry_run:
        typer.echo(f"{file}: {len(rows)} rows are fine (nothing imported, --dry-run)")
        return
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            count = import_records(session, rows, now=utcnow())
        with engine.begin() as connection:  # planner statistics for the report's indexes
            connection.execute(text("ANALYZE contact_record"))
    finally:
        engine.dispose()
    typer.echo(f"imported {count} contact records from {file}")
