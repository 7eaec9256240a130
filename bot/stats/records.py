"""Contact records: one anonymous row per contact, kept in step as things happen.

Records come three ways: ``sync_record`` follows a chat conversation (source
``live``), staff log phone calls, e-mails and Q&A sessions in the console
(``console``), and ``helpline contacts import`` loads history (``import``). Reports
read these rows only (never message text), so they are cheap to compute and survive
retention and erasure.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import Session, col, select

from bot.config import LANGUAGES
from bot.models import ContactChannel, ContactRecord, Conversation, HandledBy

SOURCES = ("live", "console", "import")  # how a record came in: ContactRecord.source
CHAT_CHANNELS: tuple[str, ...] = (
    ContactChannel.whatsapp,
    ContactChannel.telegram,
    ContactChannel.webchat,
)
LOGGED_CHANNELS: tuple[str, ...] = (
    ContactChannel.phone,
    ContactChannel.email,
    ContactChannel.qa_session,
)  # by staff
EDIT_WINDOW = timedelta(days=7)  # staff correct their own entries this long; admins any
TOPIC_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
MAX_MINUTES = 24 * 60
MAX_PARTICIPANTS = 10_000


def sync_record(
    session: Session,
    conversation: Conversation,
    record: ContactRecord | None = None,
    *,
    known: bool = False,
) -> ContactRecord:
    """Upsert the contact record of a conversation from the conversation's state.

    ``record``: the record, when the caller has it; ``known``: the caller knows that
    ``record`` is all there is (None: the conversation has none yet), so it is not read.
    """
    if conversation.id is None:
        session.flush()
    if record is None and not known:
        record = session.exec(
            select(ContactRecord).where(ContactRecord.conversation_id == conversation.id)
        ).first()
    if record is None:
        record = ContactRecord(
            conversation_id=conversation.id, channel=conversation.channel, source="live"
        )
    record.channel = conversation.channel
    record.language = conversation.language
    record.topic = conversation.topic
    record.urgent = conversation.urgent
    record.started_at = conversation.opened_at
    record.first_response_at = conversation.first_response_at  # the first staff message
    record.bot_first_response_at = conversation.bot_first_response_at
    record.closed_at = conversation.closed_at
    record.outcome = conversation.outcome
    staff_involved = conversation.claimed_at is not None or conversation.assignee_id is not None
    # Sticky: a conversation the bot handed over stays "handed off" even if staff
    # later give it back to the bot or close it; its handoff time is the first one.
    record.handed_off = record.handed_off or staff_involved or conversation.queued_at is not None
    if record.handed_off and record.handed_off_at is None:
        record.handed_off_at = conversation.queued_at or conversation.claimed_at
    # Answered by staff: a staff member wrote in it (taking it is not answering it).
    if conversation.first_response_at is not None:
        record.handled_by = HandledBy.staff
    else:
        record.handled_by = HandledBy.bot
    record.staff_id = conversation.assignee_id or record.staff_id
    session.add(record)
    return record


# --- contacts logged by staff in the console ----------------------------------------


class RecordError(ValueError):
    """A contact that cannot be recorded as given; the message says why."""


class NotAllowed(PermissionError):
    """Someone else's entry, or one too old to change without an admin."""


@dataclass(frozen=True)
class LoggedContact:
    """What staff fill in for a phone call, an e-mail or a group Q&A session."""

    channel: str
    language: str | None = None
    topic: str | None = None
    minutes: int | None = None
    started_at: datetime | None = None  # default: now; for a session, when it was held
    place: str | None = None  # sessions only: the town or organisation, never a person
    participants: int | None = None  # sessions only


def check_logged(entry: LoggedContact) -> list[str]:
    """Everything wrong with an entry (empty when it can be stored)."""
    errors = []
    if entry.channel not in LOGGED_CHANNELS:
        errors.append(f"channel must be one of {', '.join(LOGGED_CHANNELS)}")
    errors += _check_common(entry.language, entry.topic)
    if entry.minutes is not None and not 0 <= entry.minutes <= MAX_MINUTES:
        errors.append(f"minutes must be between 0 and {MAX_MINUTES}")
    if entry.started_at is not None and entry.started_at.utcoffset() is None:
        errors.append("the time needs a time zone")
    if entry.channel == ContactChannel.qa_session:
        errors += _check_participants(entry.participants)
        if entry.place is not None and len(entry.place) > 120:
            errors.append("place is at most 120 characters")
    elif entry.participants is not None or entry.place:
        errors.append("participants and place are only for a Q&A session")
    return errors


def _check_common(language: str | None, topic: str | None) -> list[str]:
    errors = []
    if language is not None and language not in LANGUAGES:
        errors.append(f"language must be one of {', '.join(LANGUAGES)}")
    if topic is not None and (len(topic) > 64 or not TOPIC_PATTERN.match(topic)):
        errors.append("topic must be a topic id such as asylum.apply")
    return errors


def _check_participants(participants: int | None) -> list[str]:
    if participants is None or not 1 <= participants <= MAX_PARTICIPANTS:
        return [f"a Q&A session has between 1 and {MAX_PARTICIPANTS} participants"]
    return []


def log_contact(
    session: Session, entry: LoggedContact, *, staff_id: int | None, now: datetime
) -> ContactRecord:
    """Record a phone call, e-mail or Q&A session; raises RecordError if it makes no sense."""
    errors = check_logged(entry)
    if errors:
        raise RecordError("; ".join(errors))
    record = ContactRecord(
        channel=entry.channel,
        handled_by=HandledBy.staff,
        staff_id=staff_id,
        source="console",
        started_at=entry.started_at or now,
        created_at=now,
    )
    _fill(record, entry)
    session.add(record)
    session.flush()
    return record


def _fill(record: ContactRecord, entry: LoggedContact) -> None:
    record.channel = entry.channel
    record.language = entry.language
    record.topic = entry.topic
    record.minutes = entry.minutes
    record.started_at = entry.started_at or record.started_at
    is_session = entry.channel == ContactChannel.qa_session
    record.place = (entry.place or None) if is_session else None
    record.participants = entry.participants if is_session else None


def may_change(
    record: ContactRecord, *, staff_id: int | None, is_admin: bool, now: datetime
) -> bool:
    """Staff correct their own console entries of the last week; admins any console entry."""
    if record.source != "console":
        return False
    if is_admin:
        return True
    return record.staff_id == staff_id and now - record.created_at <= EDIT_WINDOW


def _changeable(
    session: Session, record_id: int, *, staff_id: int | None, is_admin: bool, now: datetime
) -> ContactRecord:
    record = session.get(ContactRecord, record_id)
    if record is None or record.source != "console":
        raise LookupError(record_id)
    if not may_change(record, staff_id=staff_id, is_admin=is_admin, now=now):
        raise NotAllowed("only your own entries of the last 7 days, or an admin")
    return record


def update_logged(
    session: Session,
    record_id: int,
    entry: LoggedContact,
    *,
    staff_id: int | None,
    is_admin: bool,
    now: datetime,
) -> ContactRecord:
    """Correct a console entry (LookupError, NotAllowed or RecordError otherwise)."""
    record = _changeable(session, record_id, staff_id=staff_id, is_admin=is_admin, now=now)
    errors = check_logged(entry)
    if errors:
        raise RecordError("; ".join(errors))
    _fill(record, entry)
    session.add(record)
    session.flush()
    return record


def delete_logged(
    session: Session, record_id: int, *, staff_id: int | None, is_admin: bool, now: datetime
) -> None:
    """Delete a console entry logged by mistake (LookupError or NotAllowed otherwise)."""
    record = _changeable(session, record_id, staff_id=staff_id, is_admin=is_admin, now=now)
    session.delete(record)
    session.flush()


def recent_logged(
    session: Session, *, staff_id: int | None, is_admin: bool, now: datetime, limit: int = 20
) -> list[ContactRecord]:
    """The entries this person may still correct, newest first."""
    query = select(ContactRecord).where(ContactRecord.source == "console")
    if not is_admin:
        query = query.where(
            ContactRecord.staff_id == staff_id, col(ContactRecord.created_at) >= now - EDIT_WINDOW
        )
    return list(
        session.exec(
            query.order_by(
                col(ContactRecord.created_at).desc(), col(ContactRecord.id).desc()
            ).limit(limit)
        ).all()
    )


# --- historical records from a CSV file --------------------------------------------

IMPORT_COLUMNS = ("started_at", "channel", "language", "topic", "handled_by", "participants")


@dataclass(frozen=True)
class ImportProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRejected(ValueError):
    """The file has bad rows; nothing was imported."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        super().__init__(f"{len(problems)} bad row(s), nothing imported")
        self.problems = problems


def read_import(lines: Iterable[str], tz: ZoneInfo) -> list[dict[str, Any]]:
    """Parse and check every row of an import file before anything is stored.

    Columns: ``started_at,channel,language,topic,handled_by,participants``. A time
    without an offset is local time in ``tz``; a date alone means its first minute.
    Raises ImportRejected listing every bad row with its line number (the header is
    line 1).
    """
    reader = csv.DictReader(lines)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in IMPORT_COLUMNS if name not in header]
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    if missing or unknown:
        message = "the header must be " + ",".join(IMPORT_COLUMNS)
        if missing:
            message += f" (missing: {', '.join(missing)})"
        if unknown:
            message += f" (unknown: {', '.join(unknown)})"
        raise ImportRejected([ImportProblem(1, message)])
    reader.fieldnames = header
    rows, problems = [], []
    for raw in reader:
        if None in raw:
            problems.append(ImportProblem(reader.line_num, "more cells than columns"))
            continue
        row, errors = _parse_row({key: (value or "").strip() for key, value in raw.items()}, tz)
        problems += [ImportProblem(reader.line_num, error) for error in errors]
        if not errors:
            rows.append(row)
    if problems:
        raise ImportRejected(problems)
    return rows


def _parse_row(cells: dict[str, str], tz: ZoneInfo) -> tuple[dict[str, Any], list[str]]:
    errors = []
    started_at = _parse_time(cells["started_at"], tz)
    if started_at is None:
        errors.append(f"started_at {cells['started_at']!r} is not a date or ISO 8601 time")
    channel = cells["channel"]
    if channel not in ContactChannel.__members__:
        errors.append(f"channel {channel!r} is not one of {', '.join(ContactChannel)}")
    language, topic = cells["language"] or None, cells["topic"] or None
    errors += _check_common(language, topic)
    handled_by = cells["handled_by"]
    if handled_by not in HandledBy.__members__:
        errors.append("handled_by must be staff or bot")
    elif handled_by == HandledBy.bot and channel not in CHAT_CHANNELS:
        errors.append(f"the bot does not handle {channel}")
    participants: int | None = None
    if channel == ContactChannel.qa_session:
        try:
            participants = int(cells["participants"])
        except ValueError:
            participants = None
        errors += _check_participants(participants)
    elif cells["participants"]:
        errors.append("participants is only for qa_session")
    row = {
        "started_at": started_at,
        "channel": channel,
        "language": language,
        "topic": topic,
        "handled_by": handled_by,
        "participants": participants,
    }
    return row, errors


def _parse_time(text: str, tz: ZoneInfo) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) == 10:  # a date alone
        moment = datetime.combine(moment.date(), datetime.min.time())
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def import_records(session: Session, rows: list[dict[str, Any]], *, now: datetime) -> int:
    """Store rows checked by ``read_import`` in the caller's transaction."""
    if rows:
        session.execute(
            insert(ContactRecord),
            [{**row, "source": "import", "created_at": now, "handed_off": False} for row in rows],
        )
    return len(rows)
