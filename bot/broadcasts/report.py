"""How a broadcast went, per language: counts only, for the console, the CLI and CSV.

- targeted: people it was queued for;
- sent: the text reached the provider; delivered: the provider says it arrived;
- waiting: on WhatsApp outside the 24 hours, the template went first and the text
  waits for their reply;
- failed: the provider refused it for good; cancelled: not sent because of a cancel;
- opted_out: sent STOP after it was queued;
- replied: wrote to us after it was queued, within 24 hours of the broadcast's time.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bot.config import LANGUAGES
from bot.models import (
    Broadcast,
    BroadcastRecipient,
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
)

REPLY_WINDOW = timedelta(hours=24)
SENT = (MessageStatus.sent, MessageStatus.delivered, MessageStatus.read)
DELIVERED = (MessageStatus.delivered, MessageStatus.read)


@dataclass
class Figures:
    targeted: int = 0
    sent: int = 0
    delivered: int = 0
    waiting: int = 0
    failed: int = 0
    cancelled: int = 0
    opted_out: int = 0
    replied: int = 0

    def add(self, other: Figures) -> None:
        for name in FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


FIGURES = tuple(f.name for f in fields(Figures))


def figures_by_language(session: Session, broadcast: Broadcast) -> dict[str, Figures]:
    """Every language of the broadcast (and any of its recipients), with a total ``all``."""
    recipient = BroadcastRecipient
    status = Message.status

    def count_when(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    replied = exists().where(
        col(Conversation.contact_id) == recipient.contact_id,
        col(Message.conversation_id) == Conversation.id,
        col(Message.direction) == Direction.inbound,
        col(Message.created_at) > recipient.queued_at,
        col(Message.created_at) <= broadcast.scheduled_at + REPLY_WINDOW,
    )
    rows = session.execute(
        sa_select(
            col(recipient.language),
            func.count(),
            count_when(col(status).in_(SENT)),
            count_when(col(status).in_(DELIVERED)),
            count_when(status == MessageStatus.held),
            count_when(status == MessageStatus.failed),
            count_when(status == MessageStatus.cancelled),
            count_when(col(Contact.broadcasts_opted_out_at) >= recipient.queued_at),
        )
        .select_from(recipient)
        .join(Message, col(Message.id) == recipient.message_id, isouter=True)
        .join(Contact, col(Contact.id) == recipient.contact_id)
        .where(col(recipient.broadcast_id) == broadcast.id)
        .group_by(col(recipient.language))
    ).all()
    replies = dict(
        session.exec(
            select(recipient.language, func.count())
            .where(and_(col(recipient.broadcast_id) == broadcast.id, replied))
            .group_by(col(recipient.language))
        ).all()
    )
    languages = [language for language in LANGUAGES if language in broadcast.texts]
    found: dict[str, Figures] = {language: Figures() for language in languages}
    for language, *numbers in rows:
        targeted, sent, delivered, waiting, failed, cancelled, opted_out = (int(n) for n in numbers)
        found[str(language)] = Figures(
            targeted=targeted,
            sent=sent,
            delivered=delivered,
            waiting=waiting,
            failed=failed,
            cancelled=cancelled,
            opted_out=opted_out,
            replied=int(replies.get(language, 0)),
        )
    total = Figures()
    for figures in found.values():
        total.add(figures)
    return {**found, "all": total}


def as_dict(session: Session, broadcast: Broadcast) -> dict[str, Any]:
    """The report as the CLI prints it (``helpline broadcast report ID --json``)."""
    by_language = figures_by_language(session, broadcast)
    return {
        "id": broadcast.id,
        "status": broadcast.status,
        "created_at": broadcast.created_at.isoformat(),
        "scheduled_at": broadcast.scheduled_at.isoformat(),
        "filters": broadcast.filters,
        "topic": broadcast.topic,
        "languages": sorted(broadcast.texts),
        **asdict(by_language["all"]),
        "by_language": {
            language: asdict(figures)
            for language, figures in by_language.items()
            if language != "all"
        },
    }


def as_csv(session: Session, broadcast: Broadcast) -> str:
    """One row per language and a total: the figures, nothing about a person."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["broadcast", "language", *FIGURES])
    for language, figures in figures_by_language(session, broadcast).items():
        writer.writerow([broadcast.id, language, *(getattr(figures, n) for n in FIGURES)])
    return out.getvalue()
