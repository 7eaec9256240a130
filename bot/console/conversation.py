"""The conversation page and what staff do there: claim, reply, note, release,
transfer, close, reveal the address (admins), and play media."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

import anyio.from_thread
from fastapi import Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlmodel import Session, col, select

from bot import audit, handoff, outbox
from bot.channels import SendError
from bot.config import Settings
from bot.console import canned, history, live, queries, signals, translation
from bot.console.auth import CurrentAdmin, CurrentStaff
from bot.console.i18n import N_
from bot.console.routing import console_router
from bot.console.templating import render, render_fragment, translator
from bot.deps import (
    MAX_ROW_ID,
    ChannelsDep,
    EngineDep,
    RowId,
    SessionDep,
    SettingsDep,
    WakeupDep,
)
from bot.handoff import CloseOutcome, HandoffError
from bot.i18n import strip_isolates
from bot.models import (
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    Owner,
    Sender,
    StaffSnippet,
    StaffUser,
    utcnow,
)
from bot.privacy.addresses import decrypt_address, mask_address
from bot.privacy.erasure import ERASED

log = logging.getLogger(__name__)
router = console_router()

MAX_REPLY = 4000
MAX_TRANSFER_MESSAGE = 500
OTHER_TOPIC = "other"
OUTCOME_LABELS = {
    CloseOutcome.answered: N_("Answered"),
    CloseOutcome.referred: N_("Referred to another service"),
    CloseOutcome.no_reply: N_("No reply from the person"),
    CloseOutcome.out_of_scope: N_("Outside what we do"),
    CloseOutcome.abusive: N_("Abusive or spam"),
}
NOTICES = {
    "claimed": N_("You took this conversation."),
    "released": N_("The conversation is back in the queue."),
    "transferred": N_("The conversation was handed to your colleague."),
    "closed": N_("The conversation is closed."),
    "sent": N_("Your answer is on its way."),
    "held": N_(
        "The 24-hour WhatsApp window is closed: the person first receives the approved "
        "template message; your answer is delivered when they reply."
    ),
    "noted": N_("Note saved. The person does not see it."),
}
# Media a browser may show inline; anything else is offered as a download.
INLINE_MEDIA = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "audio/ogg",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/amr",
        "audio/wav",
        "audio/webm",
        "video/mp4",
        "video/webm",
    }
)


def _conversation(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(404, N_("There is no such conversation."))
    return conversation


def _holds(staff: StaffUser, conversation: Conversation) -> bool:
    return conversation.owner == Owner.staff and conversation.assignee_id == staff.id


def _back(conversation_id: int, notice: str | None = None) -> RedirectResponse:
    query = f"?notice={notice}" if notice else ""
    return RedirectResponse(f"/console/conversations/{conversation_id}{query}", status_code=303)


def _done(
    session: Session,
    action: str,
    staff: StaffUser,
    conversation_id: int,
    notice: str,
    detail: str | None = None,
) -> RedirectResponse:
    """Audit what staff did to the conversation, commit it, and go back to its page."""
    audit.record(
        session, action, staff_id=staff.id, target=f"conversation:{conversation_id}", detail=detail
    )
    session.commit()
    return _back(conversation_id, notice)


def _closing_topic(
    messages: list[Message], conversation: Conversation, topics: list[tuple[str, str]]
) -> str:
    """The topic to pre-fill at closing: the last canned answer staff used, else the
    topic the bot was answering, when it is one to close with."""
    known = {topic_id for topic_id, _ in topics}
    used = [m.topic for m in messages if m.sender == Sender.staff and m.topic in known]
    if used:
        return str(used[-1])
    return conversation.topic if conversation.topic in known else ""


def personal_snippets(session: Session, staff_id: int) -> list[StaffSnippet]:
    return list(
        session.exec(
            select(StaffSnippet)
            .where(col(StaffSnippet.staff_id) == staff_id)
            .order_by(col(StaffSnippet.title), col(StaffSnippet.id))
        ).all()
    )


def _transcript_context(
    session: Session, settings: Settings, conversation: Conversation
) -> dict[str, Any]:
    assert conversation.id is not None
    messages = queries.transcript(session, conversation.id)
    staff_ids = {m.staff_id for m in messages if m.staff_id}
    staff_ids |= {m.transfer_to_id for m in messages if m.transfer_to_id}
    names = queries.staff_names(session, staff_ids)
    return {
        "conversation": conversation,
        "messages": messages,
        "staff_names": names,
        "tapped": _tapped(messages),
        "translation": translation.enabled(settings),
    }


def _tapped(messages: list[Message]) -> dict[int, str]:
    """What a person tapped, for taps stored without a text: a button of an earlier
    message than the last (its title, from that message), or after retention (the
    button's own name, which holds no personal data)."""
    titles: dict[str, str] = {}
    tapped: dict[int, str] = {}
    for message in messages:
        for button in message.buttons or []:
            titles[button["payload"]] = strip_isolates(button["title"])
        if message.direction == Direction.inbound and message.text is None and message.button:
            tapped[message.id or 0] = titles.get(message.button, message.button)
    return tapped


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    staff: StaffUser,
    conversation: Conversation,
    *,
    revealed: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    contact = session.get(Contact, conversation.contact_id)
    address = decrypt_address(settings, contact.address_enc) if contact else ""
    now = utcnow()
    kb = canned.knowledge(settings)
    assignee = (
        session.get(StaffUser, conversation.assignee_id) if conversation.assignee_id else None
    )
    assert staff.id is not None and conversation.id is not None
    signals.mark_seen(session, staff.id, conversation.id)
    session.commit()
    transcript = _transcript_context(session, settings, conversation)
    topics = canned.closing_topics(kb, staff.locale)
    titles = canned.topic_titles(kb, staff.locale)
    context = {
        **transcript,
        "contact": contact,
        "masked_address": mask_address(address),
        "revealed_address": revealed,
        "holds": _holds(staff, conversation),
        "assignee": assignee,
        "window_closed": contact is not None and not outbox.reply_window_open(contact, now),
        "canned": canned.canned_answers(settings, kb, conversation.language, staff.locale),
        "topics": topics,
        "topic_titles": titles,
        "closing_topic": _closing_topic(transcript["messages"], conversation, topics),
        "unanswered": queries.last_unanswered(session, conversation.id),
        "closing_message": canned.closing_message(settings, conversation.language),
        "team_snippets": canned.team_snippets(settings, conversation.language, staff.locale),
        "personal_snippets": personal_snippets(session, staff.id),
        "other_topic": OTHER_TOPIC,
        "outcomes": OUTCOME_LABELS,
        "colleagues": queries.colleagues(session, staff.id or 0),
        "notice": NOTICES.get(notice or ""),
        "sent": notice in ("sent", "held"),  # the browser forgets the draft
        "erased": conversation.outcome == ERASED,
        "now": now,
        "earlier": history.earlier_conversations(session, conversation),
    }
    return render(request, "conversation.html", context, status_code=status_code)


@router.get("/conversations/{conversation_id}")
def conversation_page(
    request: Request,
    conversation_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    notice: str | None = None,
) -> Response:
    conversation = _conversation(session, conversation_id)
    return _page(request, session, settings, staff, conversation, notice=notice)


@router.get("/conversations/{conversation_id}/events")
def conversation_events(
    request: Request,
    conversation_id: RowId,
    engine: EngineDep,
    settings: SettingsDep,
    staff: CurrentStaff,
) -> StreamingResponse:
    staff_id = staff.id
    assert staff_id is not None

    def version() -> tuple[object, ...]:
        with Session(engine) as session:
            return (
                queries.conversation_version(session, conversation_id),
                signals.signals(session, staff_id),
            )

    def events() -> live.Events:
        with Session(engine) as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:  # erased since the page was opened: it reloads
                return [("state", "gone")]
            context = _transcript_context(session, settings, conversation)
            state = f"{conversation.owner}:{conversation.assignee_id or ''}"
            # Rendered before the commit, which expires what was read: were it erased
            # meanwhile, reading it again would fail instead of telling the page.
            fragment = render_fragment(request, "_transcript.html", context)
            signals.mark_seen(session, staff_id, conversation_id)  # shown live: read
            session.commit()
            now = signals.signals(session, staff_id)
        return [("transcript", fragment), ("state", state), ("signals", now.as_json())]

    return live.event_stream(request, version, events)


@router.post("/conversations/{conversation_id}/claim")
def claim(
    request: Request, conversation_id: RowId, session: SessionDep, staff: CurrentStaff
) -> Response:
    assert staff.id is not None
    conversation = handoff.claim(session, conversation_id, staff.id, utcnow())
    if conversation is None:
        session.rollback()
        _conversation(session, conversation_id)  # 404 when it does not exist
        raise HTTPException(
            409, translator(request).gettext("Someone else already took this conversation.")
        )
    return _done(session, audit.Action.claim, staff, conversation_id, "claimed")


@router.post("/conversations/{conversation_id}/release")
def release(
    request: Request, conversation_id: RowId, session: SessionDep, staff: CurrentStaff
) -> Response:
    assert staff.id is not None
    conversation = handoff.release(
        session, conversation_id, staff.id, utcnow(), as_admin=staff.role == "admin"
    )
    if conversation is None:
        raise HTTPException(409, translator(request).gettext("You do not hold this conversation."))
    return _done(session, audit.Action.release, staff, conversation_id, "released")


@router.post("/conversations/{conversation_id}/transfer")
def transfer(
    request: Request,
    conversation_id: RowId,
    session: SessionDep,
    staff: CurrentStaff,
    to_staff_id: Annotated[int, Form(ge=1, le=MAX_ROW_ID)],
    message: Annotated[str, Form(max_length=MAX_TRANSFER_MESSAGE)] = "",
) -> Response:
    assert staff.id is not None
    now = utcnow()
    try:
        conversation = handoff.transfer(
            session,
            conversation_id,
            staff.id,
            to_staff_id,
            now,
            as_admin=staff.role == "admin",
        )
    except HandoffError as exc:
        raise HTTPException(
            400, translator(request).gettext("Choose an active colleague.")
        ) from exc
    if conversation is None:
        raise HTTPException(409, translator(request).gettext("You do not hold this conversation."))
    message = message.replace("\r\n", "\n").strip()
    if message:
        # A note for the colleague (never sent to the person), shown on the conversation
        # page and, live, on the colleague's queue page (``handovers``).
        _add_note(session, conversation, staff, message, transfer_to_id=to_staff_id, at=now)
    return _done(
        session,
        audit.Action.transfer,
        staff,
        conversation_id,
        "transferred",
        detail=f"to staff:{to_staff_id}",
    )


@router.post("/conversations/{conversation_id}/close")
def close(
    request: Request,
    conversation_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    wakeup: WakeupDep,
    topic: Annotated[str, Form(max_length=64)],
    outcome: Annotated[str, Form(max_length=32)],
    closing_message: Annotated[bool, Form()] = False,
) -> Response:
    assert staff.id is not None
    t = translator(request)
    known = {topic_id for topic_id, _ in canned.closing_topics(canned.knowledge(settings), "en")}
    if topic != OTHER_TOPIC and topic not in known:
        raise HTTPException(400, t.gettext("Choose a topic from the list."))
    if outcome not in OUTCOME_LABELS:
        raise HTTPException(400, t.gettext("Choose an outcome from the list."))
    now = utcnow()
    conversation = handoff.close(
        session,
        conversation_id,
        staff.id,
        topic,
        outcome,
        now,
        as_admin=staff.role == "admin",
    )
    if conversation is None:
        raise HTTPException(409, t.gettext("You do not hold this conversation."))
    farewell: Message | None = None
    if closing_message:
        # Through the outbox like any answer, in the person's language, once closed.
        farewell = outbox.enqueue(
            session,
            conversation,
            canned.closing_message(settings, conversation.language),
            sender=Sender.staff,
            staff_id=staff.id,
            language=conversation.language,
            now=now,
            settings=settings,
        )
    detail = f"{topic} {outcome}" + (f" message:{farewell.id}" if farewell else "")
    back = _done(session, audit.Action.close, staff, conversation_id, "closed", detail=detail)
    if farewell is not None:
        wakeup.set()
    return back


@router.post("/conversations/{conversation_id}/reply")
def reply(
    request: Request,
    conversation_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    wakeup: WakeupDep,
    staff: CurrentStaff,
    text: Annotated[str, Form(max_length=MAX_REPLY)],
    topic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    t = translator(request)
    conversation = _conversation(session, conversation_id)
    if not _holds(staff, conversation):
        raise HTTPException(409, t.gettext("Take the conversation before you answer."))
    text = text.replace("\r\n", "\n").strip()  # browsers send textarea lines as CRLF
    if not text:
        raise HTTPException(400, t.gettext("The answer is empty."))
    now = utcnow()
    message = outbox.enqueue(
        session,
        conversation,
        text,
        sender=Sender.staff,
        staff_id=staff.id,
        language=conversation.language,
        now=now,
        settings=settings,
    )
    if topic:
        message.topic = topic
        session.add(message)
    handoff.record_staff_reply(session, conversation, now)
    back = _done(
        session,
        audit.Action.reply,
        staff,
        conversation_id,
        "held" if message.status == MessageStatus.held else "sent",
        detail=f"message:{message.id}" + (f" canned:{topic}" if topic else ""),
    )
    wakeup.set()
    return back


@router.post("/conversations/{conversation_id}/note")
def note(
    request: Request,
    conversation_id: RowId,
    session: SessionDep,
    staff: CurrentStaff,
    text: Annotated[str, Form(max_length=MAX_REPLY)],
) -> Response:
    conversation = _conversation(session, conversation_id)
    text = text.replace("\r\n", "\n").strip()  # browsers send textarea lines as CRLF
    if not text:
        raise HTTPException(400, translator(request).gettext("The note is empty."))
    _add_note(session, conversation, staff, text)
    return _done(session, audit.Action.note, staff, conversation_id, "noted")


def _add_note(
    session: Session,
    conversation: Conversation,
    staff: StaffUser,
    text: str,
    *,
    transfer_to_id: int | None = None,
    at: datetime | None = None,
) -> None:
    """A note staff keep on the conversation (never sent to the person)."""
    assert conversation.id is not None
    session.add(
        Message(
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction=Direction.note,
            sender=Sender.staff,
            staff_id=staff.id,
            transfer_to_id=transfer_to_id,
            text=text,
            status=MessageStatus.handled,
            created_at=at or utcnow(),
        )
    )


@router.post("/conversations/{conversation_id}/reveal")
def reveal(
    request: Request,
    conversation_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    admin: CurrentAdmin,
) -> Response:
    conversation = _conversation(session, conversation_id)
    contact = session.get(Contact, conversation.contact_id)
    if contact is None:
        raise HTTPException(404, N_("There is no such contact."))
    audit.record(
        session,
        audit.Action.reveal,
        staff_id=admin.id,
        target=f"contact:{contact.id}",
        detail=f"conversation:{conversation_id}",
    )
    session.commit()
    address = decrypt_address(settings, contact.address_enc)
    return _page(request, session, settings, admin, conversation, revealed=address)


@router.get("/media/{message_id}")
async def media(
    message_id: RowId, engine: EngineDep, channels: ChannelsDep, staff: CurrentStaff
) -> Response:
    """A person's voice note or picture, fetched from their channel for the console."""

    def find() -> tuple[str, str] | None:
        with Session(engine) as session:
            message = session.get(Message, message_id)
            if message is None or not message.media_ref:
                return None
            return message.channel, message.media_ref

    found = await anyio.to_thread.run_sync(find)
    if found is None:
        raise HTTPException(404, N_("There is no such media."))
    kind, ref = found
    channel = channels.get(kind)
    if channel is None:
        raise HTTPException(404, N_("This channel is not configured."))
    try:
        content, content_type = await channel.fetch_media(ref)
    except SendError as exc:
        log.warning("media %s could not be fetched: %s", message_id, type(exc).__name__)
        raise HTTPException(502, N_("The channel did not return the media.")) from exc
    content_type = content_type.split(";")[0].strip().lower()
    headers = {
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
    if content_type not in INLINE_MEDIA:
        content_type = "application/octet-stream"
        headers["Content-Disposition"] = f'attachment; filename="media-{message_id}"'
    return Response(content, media_type=content_type, headers=headers)
