"""Conversations a colleague handed to you, with their message: live on the queue page.

A transfer with a message stores it as a note naming the colleague
(``Message.transfer_to_id``); the colleague's queue page shows the conversations they
now hold that came with one, until they answer in them or hand them on.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session, col, select

from bot.console import live, queries
from bot.console.auth import CurrentStaff
from bot.console.routing import console_router
from bot.console.templating import render_fragment
from bot.deps import EngineDep
from bot.models import Conversation, Direction, Message, Owner

router = console_router()


@dataclass(frozen=True)
class Handover:
    conversation: Conversation
    note: Message
    sender: str


def handed_to(session: Session, staff_id: int) -> list[Handover]:
    """The conversations this staff member holds because a colleague handed them over
    with a message, not yet answered by them since; the newest first."""
    held = session.exec(
        select(Conversation).where(
            col(Conversation.owner) == Owner.staff, col(Conversation.assignee_id) == staff_id
        )
    ).all()
    if not held:
        return []
    notes = session.exec(
        select(Message)
        .where(
            col(Message.conversation_id).in_([c.id for c in held]),
            col(Message.direction) == Direction.note,
            col(Message.transfer_to_id) == staff_id,
            col(Message.text).is_not(None),
        )
        .order_by(col(Message.id).desc())
    ).all()
    newest: dict[int, Message] = {}
    for note in notes:
        newest.setdefault(note.conversation_id, note)
    names = queries.staff_names(session, {n.staff_id for n in newest.values() if n.staff_id})
    by_id = {c.id: c for c in held}
    handovers = []
    for conversation_id, note in sorted(newest.items(), key=lambda item: -(item[1].id or 0)):
        replied = session.exec(
            select(Message.id).where(
                col(Message.conversation_id) == conversation_id,
                col(Message.direction) == Direction.outbound,
                col(Message.staff_id) == staff_id,
                col(Message.id) > (note.id or 0),
            )
        ).first()
        if replied is None:
            handovers.append(
                Handover(by_id[conversation_id], note, names.get(note.staff_id or 0, "?"))
            )
    return handovers


@router.get("/handovers/events")
def handover_events(request: Request, engine: EngineDep, staff: CurrentStaff) -> StreamingResponse:
    staff_id = staff.id
    assert staff_id is not None

    def version() -> tuple[object, ...]:
        with Session(engine) as session:
            return tuple((h.conversation.id, h.note.id) for h in handed_to(session, staff_id))

    def events() -> live.Events:
        with Session(engine) as session:
            handovers = handed_to(session, staff_id)
        html = render_fragment(request, "_handovers.html", {"handovers": handovers})
        return [("handovers", html)]

    return live.event_stream(request, version, events)
