"""The statistics page ``/console/stats``: the report for a year, a month or a range of
days, its bar chart (SVG drawn here, no script), and its exports.

Staff and admins see the same figures the annual report needs (``bot.stats.reports``);
the exports are the same report as CSV and XLSX, and one row per contact record.
The manual-logging form lives in ``bot.console.log_contact`` and hangs off this router.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_timedelta
from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Engine
from sqlmodel import Session

from bot import audit
from bot.config import Settings
from bot.console import log_contact
from bot.console.auth import CurrentStaff
from bot.console.canned import knowledge, reference_language
from bot.console.conversation import OUTCOME_LABELS
from bot.console.i18n import N_
from bot.console.routing import console_router
from bot.console.templating import console_locale, render, translator
from bot.db import session_scope
from bot.deps import EngineDep, SessionDep, SettingsDep
from bot.models import StaffUser, utcnow
from bot.stats import exports
from bot.stats.reports import CHAT_CHANNELS, UNKNOWN, Period, Report, build_report
from bot.stats.topics import topic_figures, topics_csv

pages = console_router()

MAX_DAYS = 3700  # about ten years: enough for any comparison, small enough to draw
LINES = (  # the table's and the chart's lines: (key, label, colour)
    ("phone", N_("Phone calls"), "#0b5cad"),
    ("chat", N_("Chat conversations"), "#1e7b34"),
    ("email", N_("E-mails"), "#c99a00"),
    ("bot", N_("Bot alone"), "#8a8f94"),
)
CHANNEL_NAMES = {
    "whatsapp": N_("WhatsApp"),
    "telegram": N_("Telegram"),
    "webchat": N_("Web chat"),
    "phone": N_("Phone calls"),
    "email": N_("E-mails"),
    "qa_session": N_("Q&A sessions"),
}
# Where the period's chats stand (docs/statistics.md): (key, label, definition).
CHAT_OUTCOMES = (
    (
        "resolved_by_bot",
        N_("Resolved by the bot"),
        N_("Closed without ever being handed to staff."),
    ),
    (
        "answered_by_staff",
        N_("Answered by staff"),
        N_("A staff member sent at least one message (taking a conversation is not answering it)."),
    ),
    (
        "waiting",
        N_("Waiting for staff"),
        N_(
            "Handed to staff, not closed, and no staff message yet: in the queue, or taken "
            "by someone who has not written yet."
        ),
    ),
    (
        "abandoned",
        N_("Abandoned"),
        N_("Handed to staff, then closed without any staff message."),
    ),
    (
        "with_bot",
        N_("Still with the bot"),
        N_("Not handed to staff and not closed yet."),
    ),
)
OUTCOME_NAMES: dict[str, str] = {
    **{str(outcome): label for outcome, label in OUTCOME_LABELS.items()},
    "resolved_by_bot": N_("Closed by the bot (no message for a day)"),
}
Export = str | bytes | Iterator[str]  # a file in one piece, or lines to stream
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": exports.XLSX_TYPE}


def chosen_period(query: dict[str, str], today: date) -> Period:
    """The period asked for: ``start`` and ``end`` dates, a ``month`` (YYYY-MM), or a ``year``.

    ``ValueError`` for anything else, a year or month too large for a date included.
    """
    start, end = query.get("start", ""), query.get("end", "")
    try:
        if start or end:
            period = Period(date.fromisoformat(start), date.fromisoformat(end or start))
        elif query.get("month"):
            year, month = query["month"].split("-")
            period = Period.month(int(year), int(month))
        else:
            period = Period.year(int(query.get("year") or today.year))
    except OverflowError as exc:  # date() of a number past a C long
        raise ValueError("period out of range") from exc
    if (period.end - period.start).days > MAX_DAYS or not 2000 <= period.start.year <= 2100:
        raise ValueError("period out of range")
    return period


def _period_or_400(request: Request, settings: Settings) -> Period:
    today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
    try:
        return chosen_period(dict(request.query_params), today)
    except ValueError:
        message = translator(request).gettext(
            "Choose a year, a month, or a first and last day (at most ten years)."
        )
        raise HTTPException(400, message) from None


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    colour: str
    label: str  # for the tooltip: "Phone calls, Mar: 436"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bar: int
    top: int
    baseline: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # y, label
    months: list[tuple[float, str]]  # x (centre), label


def bar_chart(
    report: Report, month_labels: list[str], names: dict[str, str], n: Callable[[float], str]
) -> Chart:
    """Bars per month: staff phone, chat and e-mail, and what the bot handled alone."""
    series = {
        "phone": report.line("phone").per_month,
        "chat": report.line("chat").per_month,
        "email": report.line("email").per_month,
        "bot": report.bot_line().per_month,
    }
    bar, gap, left, top, plot = 13, 18, 48, 10, 200
    group = bar * len(series) + gap
    highest = max((max(values, default=0) for values in series.values()), default=0)
    step = _nice_step(highest)
    ceiling = step * 4
    bars, months = [], []
    for index, label in enumerate(month_labels):
        x0 = left + gap / 2 + index * group
        months.append((x0 + bar * len(series) / 2, label))
        for offset, (key, _label, colour) in enumerate(LINES):
            value = series[key][index]
            height = plot * value / ceiling if ceiling else 0
            bars.append(
                Bar(
                    x=x0 + offset * bar,
                    y=top + plot - height,
                    height=height,
                    colour=colour,
                    label=f"{names[key]}, {label}: {n(value)}",
                )
            )
    ticks = [(top + plot - plot * i / 4, n(step * i)) for i in range(5)]
    return Chart(
        width=left + len(month_labels) * group + gap,
        height=top + plot + 24,
        bar=bar,
        top=top,
        baseline=top + plot,
        bars=bars,
        ticks=ticks,
        months=months,
    )


def _nice_step(highest: int) -> int:
    """A round step for four gridlines that reach at least ``highest``."""
    if highest <= 0:
        return 1
    raw = highest / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return max(1, math.ceil(factor * magnitude))
    return math.ceil(raw)


def _query_string(period: Period) -> str:
    if period.is_year:
        return f"year={period.start.year}"
    if _is_month(period):
        return f"month={period.start:%Y-%m}"
    return f"start={period.start.isoformat()}&end={period.end.isoformat()}"


def _is_month(period: Period) -> bool:
    return period == Period.month(period.start.year, period.start.month)


def _download(content: Export, period: Period, what: str, suffix: str) -> Response:
    """``content`` as the file ``helpline-<what>-<period>.<suffix>``; an iterator streams."""
    if period.is_year:
        name = f"{period.start.year}"
    elif _is_month(period):
        name = f"{period.start:%Y-%m}"
    else:
        name = f"{period.start.isoformat()}_{period.end.isoformat()}"
    headers = {"Content-Disposition": f'attachment; filename="helpline-{what}-{name}.{suffix}"'}
    if isinstance(content, str | bytes):
        return Response(content, media_type=MEDIA_TYPES[suffix], headers=headers)
    return StreamingResponse(content, media_type=MEDIA_TYPES[suffix], headers=headers)


def _report(request: Request, session: Session, settings: Settings) -> tuple[Period, Report]:
    period = _period_or_400(request, settings)
    return period, build_report(session, period, ZoneInfo(settings.timezone))


@pages.get("/stats")
def stats_page(
    request: Request, session: SessionDep, settings: SettingsDep, staff: CurrentStaff
) -> Response:
    period, report = _report(request, session, settings)
    locale = console_locale(request, staff)
    t = translator(request)

    def n(value: float) -> str:
        return format_decimal(value, locale=locale)

    def duration(seconds: float | None) -> str:
        if seconds is None:
            return "—"
        return format_timedelta(timedelta(seconds=seconds), threshold=2, locale=locale)

    short_months = [format_date(month, "MMM", locale=locale) for month in report.months]
    if not period.is_year:  # several years, or part of one: say which
        short_months = [
            format_date(month, "MMM yy", locale=locale) if len(report.months) > 12 else label
            for month, label in zip(report.months, short_months, strict=True)
        ]
    names = {key: t.gettext(label) for key, label, _colour in LINES}
    kb = knowledge(settings)
    ref = reference_language(locale)

    def topic_title(topic: str) -> str:
        if topic == UNKNOWN:
            return t.gettext("No topic recorded")
        if kb is not None and topic in kb.topics:
            return kb.answer(topic, ref).title
        return topic

    context = {
        "period": period,
        "report": report,
        "query": _query_string(period),
        "months": short_months,
        "lines": LINES,
        "chat_channels": CHAT_CHANNELS,
        "channel_names": CHANNEL_NAMES,
        "chart": bar_chart(report, short_months, names, n),
        "n": n,
        "duration": duration,
        "topic_title": topic_title,
        "unknown": UNKNOWN,
        "first_day": format_date(period.start, "long", locale=locale),
        "last_day": format_date(period.end, "long", locale=locale),
        "chat_outcomes": CHAT_OUTCOMES,
        "outcome_names": OUTCOME_NAMES,
        "outcome_channels": sorted(
            report.outcomes_by_channel,
            key=lambda c: (CHAT_CHANNELS.index(c) if c in CHAT_CHANNELS else 99, c),
        ),
        "topic_figures": topic_figures(session, *period.bounds(ZoneInfo(settings.timezone))),
        "percent": lambda share: format_percent(share, locale=locale),
        "year_choice": period.start.year,
        "month_choice": f"{period.start:%Y-%m}",
    }
    return render(request, "stats.html", context)


@pages.get("/stats/report.csv")
def report_csv(
    request: Request, session: SessionDep, settings: SettingsDep, staff: CurrentStaff
) -> Response:
    period, report = _report(request, session, settings)
    return _download(exports.report_csv(report), period, "report", "csv")


@pages.get("/stats/report.xlsx")
def report_xlsx(
    request: Request, session: SessionDep, settings: SettingsDep, staff: CurrentStaff
) -> Response:
    period, report = _report(request, session, settings)
    return _download(exports.report_xlsx(report), period, "report", "xlsx")


@pages.get("/stats/topics.csv")
def topics_csv_export(
    request: Request, session: SessionDep, settings: SettingsDep, staff: CurrentStaff
) -> Response:
    """Per topic: answered by the bot, "did this help?" yes/no and rate, handoffs after
    it (``bot.stats.topics``); beside the report, whose columns stay as they are."""
    period = _period_or_400(request, settings)
    figures = topic_figures(session, *period.bounds(ZoneInfo(settings.timezone)))
    return _download(topics_csv(figures), period, "topics", "csv")


@pages.get("/stats/contacts.csv")
def contacts_csv(
    request: Request, engine: EngineDep, settings: SettingsDep, staff: CurrentStaff
) -> Response:
    return _contact_records(request, engine, settings, staff, "csv", exports.records_csv)


@pages.get("/stats/contacts.xlsx")
def contacts_xlsx(
    request: Request, engine: EngineDep, settings: SettingsDep, staff: CurrentStaff
) -> Response:
    return _contact_records(request, engine, settings, staff, "xlsx", exports.records_xlsx)


def _contact_records(
    request: Request,
    engine: Engine,
    settings: Settings,
    staff: StaffUser,
    suffix: str,
    write: Callable[[Engine, Period, ZoneInfo], Export],
) -> Response:
    """The contact records of the period, a row each; the export is audited first.

    The CSV streams: its rows are read as the file goes out, in a session of their own.
    """
    period = _period_or_400(request, settings)
    with session_scope(engine) as session:
        audit.record(
            session,
            audit.Action.export,
            staff_id=staff.id,
            target="contact_records",
            detail=f"{suffix} {period.start:%Y-%m-%d}..{period.end:%Y-%m-%d}",
        )
    return _download(write(engine, period, ZoneInfo(settings.timezone)), period, "contacts", suffix)


router = APIRouter()  # what the app includes: these pages and the contact log
router.include_router(pages)
router.include_router(log_contact.router)
