"""The queue page: who is waiting, urgent first (web chats where
``HELPLINE_WEBCHAT_QUEUE`` puts them), updated live."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlmodel import Session

from bot import audit, handoff
from bot.console import canned, live, queries, signals
from bot.console.auth import CurrentStaff
from bot.console.routing import console_router
from bot.console.templating import render, render_fragment, translator
from bot.deps import EngineDep, SessionDep, SettingsDep
from bot.models import utcnow

router = console_router()


@router.get("/queue")
def queue_page(
    request: Request, session: SessionDep, settings: SettingsDep, staff: CurrentStaff
) -> Response:
    assert staff.id is not None
    titles = canned.topic_titles(canned.knowledge(settings), staff.locale)
    view = queries.queue_view(session, staff.id, settings.webchat_queue, titles)
    return render(request, "queue.html", {"view": view, "now": utcnow()})


@router.get("/queue/events")
def queue_events(
    request: Request, engine: EngineDep, settings: SettingsDep, staff: CurrentStaff
) -> StreamingResponse:
    staff_id = staff.id
    locale = staff.locale
    assert staff_id is not None

    def version() -> tuple[str, signals.Signals]:
        with Session(engine) as session:
            return queries.queue_version(session, utcnow(), staff_id), signals.signals(
                session, staff_id
            )

    def events() -> live.Events:
        titles = canned.topic_titles(canned.knowledge(settings), locale)
        with Session(engine) as session:
            view = queries.queue_view(session, staff_id, settings.webchat_queue, titles)
            now = signals.signals(session, staff_id)
        html = render_fragment(request, "_queue.html", {"view": view, "now": utcnow()})
        return [("queue", html), ("signals", now.as_json())]

    return live.event_stream(request, version, events)


@router.get("/signals")
def signal_events(request: Request, engine: EngineDep, staff: CurrentStaff) -> StreamingResponse:
    """The signals alone, for pages without a live region of their own."""
    staff_id = staff.id
    assert staff_id is not None

    def version() -> signals.Signals:
        with Session(engine) as session:
            return signals.signals(session, staff_id)

    def events() -> live.Events:
        return [("signals", version().as_json())]

    return live.event_stream(request, version, events)


@router.post("/queue/next")
def claim_next(
    request: Request, session: SessionDep, settings: SettingsDep, staff: CurrentStaff
) -> Response:
    assert staff.id is not None
    now = utcnow()
    conversation = handoff.claim_next(session, staff.id, now, webchat_queue=settings.webchat_queue)
    if conversation is None:
        raise HTTPException(409, translator(request).gettext("Nobody is waiting."))
    audit.record(
        session, audit.Action.claim, staff_id=staff.id, target=f"conversation:{conversation.id}"
    )
    session.commit()
    return RedirectResponse(f"/console/conversations/{conversation.id}", status_code=303)
