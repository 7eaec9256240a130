"""Logging a phone call, an e-mail or a group Q&A session in a few seconds, and
correcting a mistake: ``/console/log``.

The form keeps the channel and language of the previous entry, so a morning of
phone calls is a topic and a click each. Staff correct or delete their own entries
of the last week; admins any console entry (``bot.stats.records.may_change``). Nothing
personal is asked: no name, number or address, only what the statistics count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from bot.config import LANGUAGES, Settings
from bot.console import queries
from bot.console.auth import CurrentStaff
from bot.console.canned import knowledge, reference_language
from bot.console.i18n import N_
from bot.console.routing import console_router
from bot.console.templating import console_locale, render, translator
from bot.deps import RowId, SessionDep, SettingsDep
from bot.models import ContactChannel, ContactRecord, Role, StaffUser, utcnow
from bot.stats.records import (
    LOGGED_CHANNELS,
    MAX_MINUTES,
    MAX_PARTICIPANTS,
    LoggedContact,
    NotAllowed,
    RecordError,
    delete_logged,
    log_contact,
    may_change,
    recent_logged,
    update_logged,
)

router = console_router()

OTHER_TOPIC = "other"
CHANNEL_LABELS: dict[str, str] = {
    ContactChannel.phone: N_("Phone call"),
    ContactChannel.email: N_("E-mail"),
    ContactChannel.qa_session: N_("Q&A session"),
}
NOTICES = {
    "saved": N_("Saved."),
    "updated": N_("The entry is corrected."),
    "deleted": N_("The entry is deleted."),
}
SESSION_HOUR = time(12, 0)  # a past day without a time: counted at noon, safely inside it
# An entry dated further back than this is more likely a typo (a wrong year or month)
# than a late entry: the form asks to confirm the date before saving it.
CONFIRM_AFTER = timedelta(days=60)


@dataclass
class FormValues:
    """What the form shows: the staff member's input, kept as typed when it is refused."""

    channel: str = ContactChannel.phone
    language: str = ""
    topic: str = ""
    minutes: str = ""
    day: str = ""
    time: str = ""
    place: str = ""
    participants: str = ""
    confirm_old: str = ""  # "yes": the staff member confirmed a date long ago
    errors: list[str] = field(default_factory=list)
    ask_confirmation: bool = False


def _is_admin(staff: StaffUser) -> bool:
    return staff.role == Role.admin


def parse(values: FormValues, t: Any, tz: ZoneInfo, now: datetime) -> LoggedContact | None:
    """The entry the form describes, or None with ``values.errors`` filled in."""
    errors = values.errors
    if values.channel not in LOGGED_CHANNELS:
        errors.append(t.gettext("Choose a phone call, an e-mail or a Q&A session."))
    language = values.language or None
    if language is not None and language not in LANGUAGES:
        errors.append(t.gettext("Choose a language from the list."))
    try:
        minutes = _number(values.minutes, 0, MAX_MINUTES)
    except ValueError:
        minutes = None
        errors.append(t.gettext("Minutes: a whole number up to 1440."))
    started_at = _moment(values.day, values.time, tz, now)
    if started_at is None:
        errors.append(t.gettext("The date or time is not valid, or it is in the future."))
    elif started_at < now - CONFIRM_AFTER and values.confirm_old != "yes":
        values.ask_confirmation = True
        errors.append(
            t.gettext("This date is more than 60 days ago. Check it, then confirm it below.")
        )
    is_session = values.channel == ContactChannel.qa_session
    try:
        participants = _number(values.participants, 1, MAX_PARTICIPANTS) if is_session else None
    except ValueError:
        participants = None
    if is_session and participants is None:
        errors.append(t.gettext("A Q&A session needs the number of participants."))
    if len(values.place) > 120:
        errors.append(t.gettext("The place is at most 120 characters."))
    if errors:
        return None
    return LoggedContact(
        channel=values.channel,
        language=language,
        topic=values.topic or None,
        minutes=minutes,
        started_at=started_at,
        place=(values.place.strip() or None) if is_session else None,
        participants=participants,
    )


def _number(text: str, low: int, high: int) -> int | None:
    """The whole number in ``text``, None when it is empty; ValueError when out of range."""
    if not text.strip():
        return None
    value = int(text)
    if not low <= value <= high:
        raise ValueError(text)
    return value


def _moment(day: str, clock: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """When the contact happened: now, unless the form names another day or time."""
    today = now.astimezone(tz).date()
    try:
        chosen_day = date.fromisoformat(day) if day else today
        chosen_time = time.fromisoformat(clock) if clock else None
    except ValueError:
        return None
    if chosen_day == today and chosen_time is None:
        return now
    local = datetime.combine(chosen_day, chosen_time or SESSION_HOUR, tz)
    return local if local <= now.astimezone(tz) and chosen_day.year >= 2000 else None


def _values_of(record: ContactRecord, tz: ZoneInfo) -> FormValues:
    local = record.started_at.astimezone(tz)
    return FormValues(
        channel=record.channel,
        language=record.language or "",
        topic=record.topic or "",
        minutes="" if record.minutes is None else str(record.minutes),
        day=local.date().isoformat(),
        time=local.strftime("%H:%M"),
        place=record.place or "",
        participants="" if record.participants is None else str(record.participants),
    )


def _topics(settings: Settings, locale: str, t: Any) -> list[tuple[str, str]]:
    kb = knowledge(settings)
    ref = reference_language(locale)
    topics = []
    if kb is not None:
        topics = sorted(
            (
                (topic.id, kb.answer(topic.id, ref).title)
                for topic in kb.topics.values()
                if topic.kind == "faq"
            ),
            key=lambda pair: pair[1].lower(),
        )
    return [*topics, (OTHER_TOPIC, t.gettext("Something else"))]


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    staff: StaffUser,
    values: FormValues,
    *,
    editing: ContactRecord | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    now = utcnow()
    locale = console_locale(request, staff)
    t = translator(request)
    recent = recent_logged(session, staff_id=staff.id, is_admin=_is_admin(staff), now=now)
    topics = _topics(settings, locale, t)
    context = {
        "values": values,
        "editing": editing,
        "channels": [(code, CHANNEL_LABELS[code]) for code in LOGGED_CHANNELS],
        "channel_labels": CHANNEL_LABELS,
        "languages": LANGUAGES,
        "topics": topics,
        "topic_titles": dict(topics),
        "recent": recent,
        "names": queries.staff_names(session, {r.staff_id for r in recent if r.staff_id}),
        "show_names": _is_admin(staff),
        "today": now.astimezone(ZoneInfo(settings.timezone)).date().isoformat(),
        "max_minutes": MAX_MINUTES,
        "notice": notice,
    }
    return render(request, "log_contact.html", context, status_code=status_code)


FormText = Annotated[str, Form(max_length=200)]


def _form(
    channel: FormText = ContactChannel.phone,
    language: FormText = "",
    topic: FormText = "",
    minutes: FormText = "",
    day: FormText = "",
    time: FormText = "",
    place: FormText = "",
    participants: FormText = "",
    confirm_old: FormText = "",
) -> FormValues:
    return FormValues(
        channel=channel,
        language=language,
        topic=topic[:64],
        minutes=minutes,
        day=day,
        time=time,
        place=place,
        participants=participants,
        confirm_old=confirm_old,
    )


LogForm = Annotated[FormValues, Depends(_form)]


@router.get("/log")
def log_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    channel: str = ContactChannel.phone,
    language: str = "",
    notice: str = "",
) -> Response:
    values = FormValues(
        channel=channel if channel in LOGGED_CHANNELS else ContactChannel.phone,
        language=language if language in LANGUAGES else "",
    )
    return _page(request, session, settings, staff, values, notice=NOTICES.get(notice))


@router.post("/log")
def log_save(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    values: LogForm,
) -> Response:
    now = utcnow()
    entry = parse(values, translator(request), ZoneInfo(settings.timezone), now)
    if entry is None:
        return _page(request, session, settings, staff, values, status_code=400)
    try:
        log_contact(session, entry, staff_id=staff.id, now=now)
    except RecordError as exc:
        values.errors.append(str(exc))
        return _page(request, session, settings, staff, values, status_code=400)
    session.commit()
    keep = {"channel": entry.channel, "language": entry.language or "", "notice": "saved"}
    return RedirectResponse(f"/console/log?{urlencode(keep)}", status_code=303)


def _changeable(
    request: Request, session: Session, staff: StaffUser, record_id: int
) -> ContactRecord:
    record = session.get(ContactRecord, record_id)
    if record is None or record.source != "console":
        raise HTTPException(404, translator(request).gettext("There is no such entry."))
    if not may_change(record, staff_id=staff.id, is_admin=_is_admin(staff), now=utcnow()):
        raise HTTPException(
            403,
            translator(request).gettext(
                "You can correct your own entries of the last 7 days; an admin can correct any."
            ),
        )
    return record


@router.get("/log/{record_id}")
def edit_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    record_id: RowId,
) -> Response:
    record = _changeable(request, session, staff, record_id)
    values = _values_of(record, ZoneInfo(settings.timezone))
    return _page(request, session, settings, staff, values, editing=record)


@router.post("/log/{record_id}")
def edit_save(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    record_id: RowId,
    values: LogForm,
) -> Response:
    record = _changeable(request, session, staff, record_id)
    now = utcnow()
    entry = parse(values, translator(request), ZoneInfo(settings.timezone), now)
    try:
        if entry is not None:
            update_logged(
                session, record_id, entry, staff_id=staff.id, is_admin=_is_admin(staff), now=now
            )
    except RecordError as exc:
        values.errors.append(str(exc))
    except NotAllowed:  # the edit window closed while the form was open
        raise HTTPException(
            403, translator(request).gettext("This entry can no longer be corrected.")
        ) from None
    if values.errors:
        session.rollback()
        return _page(request, session, settings, staff, values, editing=record, status_code=400)
    session.commit()
    return RedirectResponse("/console/log?notice=updated", status_code=303)


@router.post("/log/{record_id}/delete")
def delete(
    request: Request, session: SessionDep, staff: CurrentStaff, record_id: RowId
) -> Response:
    _changeable(request, session, staff, record_id)
    delete_logged(session, record_id, staff_id=staff.id, is_admin=_is_admin(staff), now=utcnow())
    session.commit()
    return RedirectResponse("/console/log?notice=deleted", status_code=303)
