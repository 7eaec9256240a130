"""Creating, queueing and cancelling broadcasts.

``create`` stores a broadcast (status "scheduled", for now or a later time) and its
audit entry; nothing is queued yet. The worker's ``queue_due`` job then puts its
recipients in the outbox in batches, as bulk work (``outbox.BULK``: any reply to
someone writing goes first), so a broadcast to 10,000 people never holds the
database or the worker for long. Each person is queued at most once: a batch is
claimed by moving the broadcast's ``expanded_to`` (the highest contact id done) with
a conditional update, and ``broadcast_recipient`` is unique per broadcast and person,
so two instances running the job cannot both queue someone.

On WhatsApp, outside the 24 hours after the person's last message, the outbox sends
the approved template first (``HELPLINE_BROADCAST_TEMPLATE_SIDS``, else
``HELPLINE_TWILIO_TEMPLATE_SIDS``) and the text once they answer it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, func, update
from sqlmodel import Session, col, select

from bot import audit, outbox
from bot.broadcasts.audience import Audience, count_by_language, summary
from bot.broadcasts.texts import stop_hint
from bot.channels import transport
from bot.config import LANGUAGES, Settings
from bot.db import session_scope
from bot.hours import OpeningHours
from bot.i18n import isolate
from bot.kb import live
from bot.messages import Button
from bot.models import (
    Broadcast,
    BroadcastRecipient,
    BroadcastStatus,
    Contact,
    Conversation,
    Message,
    MessageStatus,
    RecipientStatus,
    Role,
    StaffUser,
    utcnow,
)

log = logging.getLogger(__name__)

BATCH = 200  # recipients queued in one transaction
MAX_TEXT = 1200  # leaves room for the stop hint within one WhatsApp message (1600)


class BroadcastError(ValueError):
    """A broadcast that cannot be sent as asked (no text, an unknown topic, a past time)."""


def may_broadcast(staff: StaffUser | None) -> bool:
    return staff is not None and staff.active and (staff.role == Role.admin or staff.can_broadcast)


def clean_texts(texts: Mapping[str, object]) -> dict[str, str]:
    """The texts per language, without the empty ones; refuses an unknown language."""
    unknown = set(texts) - set(LANGUAGES)
    if unknown:
        raise BroadcastError(f"unknown language: {', '.join(sorted(unknown))}")
    cleaned = {
        language: str(text).strip()
        for language, text in texts.items()
        if text is not None and str(text).strip()
    }
    if not cleaned:
        raise BroadcastError("no text in any language")
    too_long = [language for language, text in cleaned.items() if len(text) > MAX_TEXT]
    if too_long:
        raise BroadcastError(f"longer than {MAX_TEXT} characters: {', '.join(too_long)}")
    return cleaned


def create(
    session: Session,
    settings: Settings,
    *,
    staff_id: int | None,
    texts: Mapping[str, object],
    audience: Audience,
    topic: str | None = None,
    at: datetime | None = None,
    in_opening_hours: bool = False,
    now: datetime | None = None,
) -> tuple[Broadcast, dict[str, object]]:
    """Store a broadcast to send at ``at`` (now by default); returns it and its counts."""
    now = now or utcnow()
    cleaned = clean_texts(texts)
    if topic and topic not in live.knowledge(settings).topics:
        raise BroadcastError(f"unknown topic: {topic}")
    when = at or now
    if when.tzinfo is None:
        raise BroadcastError("a time needs its time zone (e.g. 2026-12-04T09:00+01:00)")
    if in_opening_hours:
        when = OpeningHours.from_settings(settings).next_opening(max(when, now))
    counts = summary(count_by_language(session, audience, now=now), cleaned)
    broadcast = Broadcast(
        created_by=staff_id,
        created_at=now,
        scheduled_at=max(when, now).astimezone(UTC),
        status=BroadcastStatus.scheduled,
        texts=cleaned,
        topic=topic or None,
        filters=audience.as_filters(),
        targeted=int(counts["targeted"]),
    )
    session.add(broadcast)
    session.flush()
    audit.record(
        session,
        audit.Action.broadcast,
        staff_id=staff_id,
        target=f"broadcast:{broadcast.id}",
        detail=json.dumps(
            {
                "filters": broadcast.filters,
                "languages": sorted(cleaned),
                "targeted": counts["targeted"],
                "at": broadcast.scheduled_at.isoformat(),
            },
            sort_keys=True,
        ),
        now=now,
    )
    return broadcast, counts


def cancel(session: Session, broadcast_id: int, *, staff_id: int | None, now: datetime) -> int:
    """Stop what is not sent yet; returns how many messages will not go out."""
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise LookupError(broadcast_id)
    if broadcast.status == BroadcastStatus.cancelled:
        return 0
    # Claimed first: a batch being queued right now either finishes before (and its
    # messages are cancelled below) or sees "cancelled" and queues nothing.
    session.execute(
        update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id)
        .values(status=BroadcastStatus.cancelled, cancelled_at=now)
    )
    recipients = select(BroadcastRecipient.id).where(
        BroadcastRecipient.broadcast_id == broadcast_id,
        BroadcastRecipient.status == RecipientStatus.queued,
    )
    ids = list(session.exec(recipients).all())
    stopped = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = session.exec(
            select(BroadcastRecipient).where(col(BroadcastRecipient.id).in_(chunk))
        ).all()
        message_ids = [
            m for r in rows for m in (r.message_id, r.template_message_id) if m is not None
        ]
        result = session.execute(
            update(Message)
            .where(
                col(Message.id).in_(message_ids),
                col(Message.status).in_([MessageStatus.queued, MessageStatus.held]),
            )
            .values(status=MessageStatus.cancelled, next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )
        stopped += int(getattr(result, "rowcount", 0) or 0)
        # Only those whose text never left: a text already sent stays "queued" (sent).
        session.execute(
            update(BroadcastRecipient)
            .where(
                col(BroadcastRecipient.id).in_(chunk),
                col(BroadcastRecipient.message_id).in_(
                    select(Message.id).where(col(Message.status) == MessageStatus.cancelled)
                ),
            )
            .values(status=RecipientStatus.cancelled)
            .execution_options(synchronize_session=False)
        )
    audit.record(
        session,
        audit.Action.broadcast_cancelled,
        staff_id=staff_id,
        target=f"broadcast:{broadcast_id}",
        detail=json.dumps({"not_sent": stopped}),
        now=now,
    )
    return stopped


def queue_due(engine: Engine, settings: Settings, *, now: datetime) -> int:
    """The worker's job: queue one batch of a due broadcast's recipients in the outbox."""
    with session_scope(engine) as session:
        query = (
            select(Broadcast)
            .where(
                col(Broadcast.status).in_([BroadcastStatus.scheduled, BroadcastStatus.sending]),
                col(Broadcast.scheduled_at) <= now,
            )
            .order_by(col(Broadcast.scheduled_at), col(Broadcast.id))
            .limit(1)
        )
        if not settings.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        broadcast = session.exec(query).first()
        if broadcast is None:
            return 0
        return _queue_batch(session, settings, broadcast, now=now)


def _queue_batch(
    session: Session, settings: Settings, broadcast: Broadcast, *, now: datetime
) -> int:
    assert broadcast.id is not None
    audience = Audience.from_filters(broadcast.filters)
    languages = [language for language in broadcast.texts if language in LANGUAGES]
    contacts = session.exec(
        select(Contact)
        .where(
            and_(*audience.where(now)),
            col(Contact.language).in_(languages),
            col(Contact.id) > broadcast.expanded_to,
        )
        .order_by(col(Contact.id))
        .limit(BATCH)
    ).all()
    last = contacts[-1].id if contacts else broadcast.expanded_to
    claimed = session.execute(
        update(Broadcast)
        .where(
            col(Broadcast.id) == broadcast.id,
            col(Broadcast.expanded_to) == broadcast.expanded_to,
            col(Broadcast.status) == broadcast.status,
        )
        .values(
            expanded_to=last,
            status=BroadcastStatus.sending if contacts else BroadcastStatus.done,
            finished_at=None if contacts else now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return 0  # another instance took this batch, or it was cancelled
    if not contacts:
        _count_targeted(session, broadcast.id)
        log.info("broadcast %s: every recipient is queued", broadcast.id)
        return 1
    template_sids = settings.broadcast_template_sids or settings.twilio_template_sids
    knowledge = live.knowledge(settings) if broadcast.topic else None
    latest = _latest_conversations(session, [c.id for c in contacts if c.id is not None])
    for contact in contacts:
        assert contact.id is not None and contact.language is not None
        conversation = latest.get(contact.id)
        if conversation is None:
            continue
        language = contact.language
        buttons = None
        if knowledge is not None and broadcast.topic in knowledge.topics:
            title = knowledge.answer(broadcast.topic, language).title
            buttons = [Button(f"topic:{broadcast.topic}", isolate(title, language))]
        text = broadcast.texts[language] + "\n\n" + stop_hint(settings, language)
        template_sid = None
        if transport(contact.channel).reply_window is not None:
            template_sid = template_sids.get(language) or template_sids.get("en")
        message = outbox.enqueue(
            session,
            conversation,
            text,
            settings=settings,
            sender="bot",
            language=language,
            buttons=buttons,
            now=now,
            priority=outbox.BULK,
            template_sid=template_sid,
        )
        template_id = None
        if message.status == MessageStatus.held:
            template_id = session.exec(
                select(Message.id)
                .where(
                    Message.conversation_id == conversation.id,
                    col(Message.template_sid).is_not(None),
                    Message.status == MessageStatus.queued,
                )
                .order_by(col(Message.id).desc())
            ).first()
        session.add(
            BroadcastRecipient(
                broadcast_id=broadcast.id,
                contact_id=contact.id,
                language=language,
                channel=contact.channel,
                message_id=message.id,
                template_message_id=template_id,
                queued_at=now,
            )
        )
    session.flush()
    return len(contacts)


def _latest_conversations(session: Session, contact_ids: list[int]) -> dict[int, Conversation]:
    """Each contact's newest conversation: where a broadcast is written (and staff see it)."""
    newest = (
        select(func.max(Conversation.id))
        .where(col(Conversation.contact_id).in_(contact_ids))
        .group_by(col(Conversation.contact_id))
    )
    found = session.exec(select(Conversation).where(col(Conversation.id).in_(newest))).all()
    return {conversation.contact_id: conversation for conversation in found}


def _count_targeted(session: Session, broadcast_id: int) -> None:
    queued = session.exec(
        select(func.count()).where(BroadcastRecipient.broadcast_id == broadcast_id)
    ).one()
    session.execute(
        update(Broadcast).where(col(Broadcast.id) == broadcast_id).values(targeted=int(queued))
    )
