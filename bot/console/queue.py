"""The queue page: who is waiting, urgent first (web chats where
``HELPLINE_WEBCHAT_QUEUE`` puts them), updated live."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlmodel import Session

from bot import audit, handoff
from bot.console import live, queries
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
    view = queries.queue_view(session, staff.id, settings.webchat_queue)
    return render(request, "queue.html", {"view": view, "now": utcnow()})


@router.get("/queue/events")
def queue_events(
    request: Request, engine: EngineDep, settings: SettingsDep, staff: CurrentStaff
) -> StreamingResponse:
    staff_id = staff.id
    assert staff_id is not None

    def version() -> str:
        with Session(engine) as session:
            return queries.queue_version(session, utcnow())

    def events() -> live.Events:
        with Session(engine) as session:
            view = queries.queue_view(session, staff_id, settings.webchat_queue)
        html = render_fragment(request, "_queue.html", {"view": view, "now": utcnow()})
        return [("queue", html)]

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
