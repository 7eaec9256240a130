"""The Infolijn's figures for a year, a month or any range of days.

Everything is counted from contact records (never from messages) by grouped
aggregate queries that read the covering indexes declared on ``ContactRecord`` and
never the table: one for the monthly table, the bot's work, where the chats stand and
the Q&A sessions, one each for languages, topics and outcomes, and a count and a
median for each response time. A report therefore costs the
same whether the conversations behind it still exist or not (``bench/stats.py``:
about 0.15 s for a year of 100,000 records on SQLite).

"Staff" counts what staff answered, as the annual report does (a chat once a staff
member wrote in it: taking it is not answering it); the bot's line counts the chats
never handed to staff. Every chat of the period stands in one of five places
(``ChatOutcomes``): resolved by the bot, answered by staff, waiting, abandoned, or
still with the bot. The definitions are in docs/statistics.md.

Months are calendar months in the helpline's time zone (``HELPLINE_TIMEZONE``): a
call at 00:30 on 1 March in Brussels belongs to March, whatever UTC says. The
boundaries are computed here and compared in SQL, which keeps the queries portable
between SQLite and PostgreSQL and correct across daylight-saving changes.
"""

from __future__ import annotations

import calendar
import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col

from bot.models import ContactChannel, ContactRecord, HandledBy
from bot.stats.records import CHAT_CHANNELS, SOURCES

STAFF_CHANNELS: tuple[str, ...] = (ContactChannel.phone, *CHAT_CHANNELS, ContactChannel.email)
# The annual report's lines: phone calls, chat messages (all chat channels), e-mails.
STAFF_LINES: dict[str, tuple[str, ...]] = {
    "phone": (ContactChannel.phone,),
    "chat": CHAT_CHANNELS,
    "email": (ContactChannel.email,),
}
UNKNOWN = "unknown"  # the key for records without a language or topic


def round_half_up(value: float) -> int:
    """531.5 -> 532, as people round (Python's ``round`` would give 532 or 531 by parity)."""
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class Period:
    """Whole days, from ``start`` to ``end`` inclusive, in the helpline's time zone."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends on or after the day it starts")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @property
    def is_year(self) -> bool:
        return (self.start.month, self.start.day, self.end.month, self.end.day) == (
            1,
            1,
            12,
            31,
        ) and (self.start.year == self.end.year)

    def months(self) -> list[date]:
        """The first day of every calendar month the period touches."""
        months, current = [], self.start.replace(day=1)
        while current <= self.end:
            months.append(current)
            current = _next_month(current)
        return months

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as a half-open range of aware UTC instants."""
        return _instant(self.start, tz), _instant(self.end + timedelta(days=1), tz)

    def month_starts(self, tz: ZoneInfo) -> list[datetime]:
        """Where the second, third, ... month of the period begins, in UTC."""
        return [_instant(month, tz) for month in self.months()[1:]]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _instant(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


@dataclass(frozen=True)
class Line:
    """One line of the table: a count per month, its total and its monthly average."""

    per_month: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.per_month)

    @property
    def monthly_avg(self) -> int:
        return round_half_up(self.total / len(self.per_month)) if self.per_month else 0

    def __add__(self, other: Line) -> Line:
        return Line(tuple(a + b for a, b in zip(self.per_month, other.per_month, strict=True)))


@dataclass(frozen=True)
class BotWork:
    conversations: int  # chat conversations the bot took part in
    resolved: int  # the bot alone, to the end
    handed_off: int  # moved to the staff queue


@dataclass(frozen=True)
class ChatOutcomes:
    """The period's chat conversations by where they stand now (docs/statistics.md)."""

    resolved_by_bot: int = 0  # closed, never handed to staff
    answered_by_staff: int = 0  # a staff member sent at least one message
    waiting: int = 0  # handed to staff, not closed, no staff message yet (queued or taken)
    abandoned: int = 0  # handed to staff, closed without any staff message
    with_bot: int = 0  # still talking to the bot: not handed off, not closed

    def as_json(self) -> dict[str, int]:
        return {
            "resolved_by_bot": self.resolved_by_bot,
            "answered_by_staff": self.answered_by_staff,
            "waiting": self.waiting,
            "abandoned": self.abandoned,
        }


@dataclass(frozen=True)
class QaSessions:
    sessions: int
    participants_total: int
    participants_max: int

    @property
    def participants_avg(self) -> int:
        return round_half_up(self.participants_total / self.sessions) if self.sessions else 0


@dataclass(frozen=True)
class Split:
    """Contacts of one language or topic: answered by staff, by the bot alone, and chats
    handed to staff that no staff member answered (waiting or abandoned)."""

    staff: int = 0
    bot: int = 0
    unanswered: int = 0

    @property
    def total(self) -> int:
        return self.staff + self.bot + self.unanswered


@dataclass(frozen=True)
class Report:
    period: Period
    months: tuple[date, ...]
    staff: dict[str, Line]  # per channel, handled by staff (phone, whatsapp, ..., email)
    bot: dict[str, Line]  # per chat channel, never handed to staff
    bot_work: BotWork
    qa: QaSessions
    minutes: dict[str, int]  # minutes logged per channel (phone calls, e-mails, sessions)
    by_language: dict[str, Split] = field(default_factory=dict)  # biggest first
    by_topic: dict[str, Split] = field(default_factory=dict)
    median_first_response: float | None = None  # seconds, handoff -> first staff message
    median_resolution: float | None = None  # seconds to close a staff-answered chat
    median_bot_first_answer: float | None = None  # seconds, start -> the bot's first reply
    chat_outcomes: ChatOutcomes = field(default_factory=ChatOutcomes)
    outcomes: dict[str, int] = field(default_factory=dict)  # chosen at closing, biggest first
    outcomes_by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    outcomes_by_language: dict[str, dict[str, int]] = field(default_factory=dict)

    def line(self, name: str) -> Line:
        """``phone``, ``chat``, ``email``, ``total`` (staff), or one channel."""
        if name == "total":
            return self.line("phone") + self.line("chat") + self.line("email")
        channels = STAFF_LINES.get(name, (name,))
        lines = [self.staff[channel] for channel in channels]
        result = lines[0]
        for more in lines[1:]:
            result = result + more
        return result

    def bot_line(self) -> Line:
        empty = Line((0,) * len(self.months))
        return sum((self.bot[channel] for channel in CHAT_CHANNELS), empty)


def build_report(session: Session, period: Period, tz: ZoneInfo) -> Report:
    start, end = period.bounds(tz)
    in_period = [col(ContactRecord.started_at) >= start, col(ContactRecord.started_at) < end]
    months = len(period.months())

    staff = {channel: [0] * months for channel in STAFF_CHANNELS}
    bot = {channel: [0] * months for channel in CHAT_CHANNELS}
    minutes: dict[str, int] = {}
    conversations = resolved = handed_off = 0
    closed_by_staff = 0  # how many durations the resolution median is taken over
    chat_outcomes: dict[str, int] = {}
    qa = QaSessions(0, 0, 0)
    for group in _groups(session, in_period, period.month_starts(tz)):
        minutes[group.channel] = minutes.get(group.channel, 0) + group.minutes
        if group.handled_by == HandledBy.staff and group.channel in staff:
            _add(staff[group.channel], group.per_month)
        elif group.channel in bot and not group.handed_off:
            _add(bot[group.channel], group.per_month)
        if group.channel == ContactChannel.qa_session:
            qa = QaSessions(
                qa.sessions + group.count,
                qa.participants_total + group.participants,
                max(qa.participants_max, group.biggest),
            )
        if group.channel not in CHAT_CHANNELS:
            continue
        if group.handled_by == HandledBy.staff:
            closed_by_staff += group.closed
        for where, count in _chat_outcomes(group).items():
            chat_outcomes[where] = chat_outcomes.get(where, 0) + count
        if group.source == "live" or group.handled_by == HandledBy.bot:
            conversations += group.count
            handed_off += group.count if group.handed_off else 0
            finished = group.count if group.source == "import" else group.closed
            if group.handled_by == HandledBy.bot and not group.handed_off:
                resolved += finished

    chats = [*in_period, col(ContactRecord.channel).in_(CHAT_CHANNELS)]
    return Report(
        period=period,
        months=tuple(period.months()),
        staff={channel: Line(tuple(counts)) for channel, counts in staff.items()},
        bot={channel: Line(tuple(counts)) for channel, counts in bot.items()},
        bot_work=BotWork(conversations, resolved, handed_off),
        qa=qa,
        minutes=minutes,
        by_language=_split_by(session, ContactRecord.language, in_period),
        by_topic=_split_by(session, ContactRecord.topic, in_period),
        median_first_response=_median_seconds(
            session, ContactRecord.handed_off_at, ContactRecord.first_response_at, chats
        ),
        median_resolution=_median_seconds(
            session,
            ContactRecord.started_at,
            ContactRecord.closed_at,
            [*chats, col(ContactRecord.handled_by) == HandledBy.staff],
            closed_by_staff,
        ),
        median_bot_first_answer=_median_seconds(
            session, ContactRecord.started_at, ContactRecord.bot_first_response_at, chats
        ),
        chat_outcomes=ChatOutcomes(**chat_outcomes),
        **_outcomes(session, in_period),
    )


def _chat_outcomes(group: _Group) -> dict[str, int]:
    """Where a group of chats stands: the definitions of docs/statistics.md."""
    if group.handled_by == HandledBy.staff:
        return {"answered_by_staff": group.count}
    if group.source == "import":  # history: the bot's, to the end
        return {"resolved_by_bot": group.count}
    if group.handed_off:
        return {"abandoned": group.closed, "waiting": group.count - group.closed}
    return {"resolved_by_bot": group.closed, "with_bot": group.count - group.closed}


def _outcomes(session: Session, in_period: list[Any]) -> dict[str, Any]:
    """The outcomes chosen at closing: in all, per channel and per language."""
    outcome, channel, language = (
        col(ContactRecord.outcome),
        col(ContactRecord.channel),
        col(ContactRecord.language),
    )
    query = (
        select(outcome, channel, language, func.count())
        .where(*in_period, outcome.is_not(None))
        .group_by(outcome, channel, language)
    )
    total: dict[str, int] = {}
    by_channel: dict[str, dict[str, int]] = {}
    by_language: dict[str, dict[str, int]] = {}
    for name, kind, lang, count in session.execute(query).all():
        for counts in (
            total,
            by_channel.setdefault(kind, {}),
            by_language.setdefault(lang or UNKNOWN, {}),
        ):
            counts[name] = counts.get(name, 0) + count
    return {
        "outcomes": _biggest_first(total),
        "outcomes_by_channel": {
            key: _biggest_first(value) for key, value in sorted(by_channel.items())
        },
        "outcomes_by_language": {
            key: _biggest_first(value)
            for key, value in sorted(
                by_language.items(), key=lambda item: (-sum(item[1].values()), item[0])
            )
        },
    }


def _biggest_first(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _add(counts: list[int], more: list[int]) -> None:
    for index, value in enumerate(more):
        counts[index] += value


@dataclass(frozen=True)
class _Group:
    """The period's records of one kind: channel, who handled them, handed off, source."""

    channel: str
    handled_by: str
    handed_off: bool
    source: str
    count: int
    per_month: list[int]
    closed: int
    minutes: int
    participants: int
    biggest: int


def _groups(session: Session, in_period: list[Any], month_starts: list[datetime]) -> list[_Group]:
    """One grouped query for the table, the bot's work and the Q&A sessions.

    It groups by the leading columns of ``ix_contact_record_kind`` and names every
    value they can take, so the database seeks each group's range of ``started_at``
    in that index and reads it in order: no table reads, no sorting, and no need for
    planner statistics (SQLite has none until someone runs ``ANALYZE``). Months are
    one ``started_at < boundary`` sum per month boundary rather than a grouping, and
    turned into per-month counts here.
    """
    started = col(ContactRecord.started_at)
    kind = (
        col(ContactRecord.channel),
        col(ContactRecord.handled_by),
        col(ContactRecord.handed_off),
        col(ContactRecord.source),
    )
    query = (
        select(
            *kind,
            func.count(),
            func.count(col(ContactRecord.closed_at)),
            func.coalesce(func.sum(ContactRecord.minutes), 0),
            func.coalesce(func.sum(ContactRecord.participants), 0),
            func.coalesce(func.max(ContactRecord.participants), 0),
            *[func.sum(case((started < boundary, 1), else_=0)) for boundary in month_starts],
        )
        .where(
            *in_period,
            col(ContactRecord.channel).in_(list(ContactChannel)),
            col(ContactRecord.handled_by).in_(list(HandledBy)),
            col(ContactRecord.handed_off).in_((False, True)),
            col(ContactRecord.source).in_(SOURCES),
        )
        .group_by(*kind)
    )
    groups = []
    for row in session.execute(query):
        channel, handled_by, handed_off, source, count, closed = row[:6]
        spent, people, biggest, *before = (int(value or 0) for value in row[6:])
        cumulative = [*before, count]
        per_month = [cumulative[0]] + [b - a for a, b in itertools.pairwise(cumulative)]
        groups.append(
            _Group(
                channel=channel,
                handled_by=handled_by,
                handed_off=bool(handed_off),
                source=source,
                count=count,
                per_month=per_month,
                closed=closed,
                minutes=spent,
                participants=people,
                biggest=biggest,
            )
        )
    return groups


def _split_by(session: Session, column: Any, in_period: list[Any]) -> dict[str, Split]:
    counts: dict[str, Split] = {}
    kind = (col(ContactRecord.handled_by), col(ContactRecord.handed_off))
    query = select(column, *kind, func.count()).where(*in_period).group_by(column, *kind)
    rows = session.execute(query).all()
    for key, handled_by, handed_off, count in rows:
        name = key or UNKNOWN
        split = counts.get(name, Split())
        if handled_by == HandledBy.staff:
            counts[name] = Split(split.staff + count, split.bot, split.unanswered)
        elif handed_off:
            counts[name] = Split(split.staff, split.bot, split.unanswered + count)
        else:
            counts[name] = Split(split.staff, split.bot + count, split.unanswered)
    return dict(sorted(counts.items(), key=lambda item: (-item[1].total, item[0])))


def _median_seconds(
    session: Session, since: Any, until: Any, where: list[Any], count: int | None = None
) -> float | None:
    """The median of ``until - since`` over the matching records that have both, in the
    database; ``count`` is how many those are, when the caller knows."""
    duration = _seconds_between(session, col(since), col(until))
    where = [*where, col(since).is_not(None), col(until).is_not(None)]
    if count is None:
        count = session.scalars(select(func.count()).select_from(ContactRecord).where(*where)).one()
    if not count:
        return None
    query = (
        select(duration)
        .where(*where)
        .order_by(duration)
        .offset((count - 1) // 2)
        .limit(2 - count % 2)
    )
    middle = session.scalars(query).all()
    return round(sum(float(value) for value in middle) / len(middle), 1)


def _seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def report_json(report: Report) -> dict[str, Any]:
    """The report in the shape the issue fixes (the keys are a contract)."""

    def line(name: str) -> dict[str, Any]:
        counts = report.line(name)
        return {
            "total": counts.total,
            "monthly_avg": counts.monthly_avg,
            "per_month": list(counts.per_month),
        }

    total = report.line("total")
    return {
        "year": report.period.start.year,
        "staff": {
            "phone": line("phone"),
            "chat": {
                **line("chat"),
                "by_channel": {channel: report.staff[channel].total for channel in CHAT_CHANNELS},
            },
            "email": line("email"),
            "total": {"total": total.total, "monthly_avg": total.monthly_avg},
        },
        "bot": {
            "conversations": report.bot_work.conversations,
            "resolved": report.bot_work.resolved,
            "handed_off": report.bot_work.handed_off,
        },
        "qa_sessions": {
            "sessions": report.qa.sessions,
            "participants_avg": report.qa.participants_avg,
            "participants_max": report.qa.participants_max,
        },
        "by_language": {key: split.total for key, split in report.by_language.items()},
        "by_topic": {key: split.total for key, split in report.by_topic.items()},
        "chat_outcomes": report.chat_outcomes.as_json(),
        "first_staff_answer_median_s": report.median_first_response,
    }
