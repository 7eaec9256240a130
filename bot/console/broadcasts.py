"""Broadcasts in the console: compose (six languages, filters, a live count), send now or
at a time, the report (page and CSV), cancel. For admins and staff allowed to broadcast.

Nothing about a person is shown: counts only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from sqlmodel import col, select

from bot.broadcasts import report
from bot.broadcasts.audience import CHANNELS, Audience, AudienceError, count_by_language, summary
from bot.broadcasts.sending import MAX_TEXT, BroadcastError, cancel, create, may_broadcast
from bot.config import LANGUAGES, Settings
from bot.console.auth import CurrentStaff
from bot.console.i18n import LANGUAGE_NAMES, N_
from bot.console.routing import console_router
from bot.console.templating import render, translator
from bot.deps import RowId, SessionDep
from bot.i18n import RTL_LANGUAGES
from bot.kb import live
from bot.models import Broadcast, StaffUser, utcnow

router = console_router()
PAGE_SIZE = 50
STATUS_LABELS = {
    "scheduled": N_("Scheduled"),
    "sending": N_("Being queued"),
    "done": N_("Queued for everyone"),
    "cancelled": N_("Cancelled"),
}
FIGURE_LABELS = {
    "targeted": N_("Targeted"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "waiting": N_("Template sent, waiting for a reply"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
    "opted_out": N_("Sent STOP since"),
    "replied": N_("Replied within 24 hours"),
}


def current_broadcaster(staff: CurrentStaff) -> StaffUser:
    if not may_broadcast(staff):
        raise HTTPException(403, N_("Only an administrator or a broadcaster may do this."))
    return staff


CurrentBroadcaster = Annotated[StaffUser, Depends(current_broadcaster)]


def _audience(values: Any) -> Audience:
    """The filters from a query string or a form."""
    since = str(values.get("since_days") or "").strip()
    topic_days = str(values.get("topic_days") or "").strip()
    try:
        return Audience(
            channels=tuple(values.getlist("channel")),
            languages=tuple(values.getlist("language")),
            topics=tuple(t for t in values.getlist("topic") if t),
            topic_days=int(topic_days) if topic_days else 60,
            since_days=int(since) if since else None,
        )
    except (AudienceError, ValueError) as exc:
        raise HTTPException(
            400, N_("The form is incomplete or not valid. Go back and check it.")
        ) from exc


def _texts(form: Any) -> dict[str, str]:
    return {lang: str(form.get(f"text_{lang}") or "").replace("\r\n", "\n") for lang in LANGUAGES}


def _form_context(settings: Settings) -> dict[str, Any]:
    return {
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "rtl": RTL_LANGUAGES,
        "channels": CHANNELS,
        "topics": sorted(live.knowledge(settings).topics),
        "max_text": MAX_TEXT,
    }


@router.get("/broadcasts")
def broadcasts_page(request: Request, session: SessionDep, staff: CurrentBroadcaster) -> Response:
    broadcasts = session.exec(
        select(Broadcast).order_by(col(Broadcast.id).desc()).limit(PAGE_SIZE)
    ).all()
    settings: Settings = request.app.state.settings
    context = {"broadcasts": broadcasts, "statuses": STATUS_LABELS, **_form_context(settings)}
    return render(request, "broadcasts.html", context)


@router.get("/broadcasts/count")
def broadcast_count(request: Request, session: SessionDep, staff: CurrentBroadcaster) -> Response:
    """How many people the filters reach, per language (the compose form asks as it changes)."""
    audience = _audience(request.query_params)
    with_text = [lang for lang in LANGUAGES if request.query_params.get(f"has_{lang}")]
    counts = count_by_language(session, audience, now=utcnow())
    return JSONResponse(summary(counts, with_text))


@router.post("/broadcasts")
async def send_broadcast(
    request: Request, session: SessionDep, staff: CurrentBroadcaster
) -> Response:
    settings: Settings = request.app.state.settings
    t = translator(request)
    form = await request.form()
    audience = _audience(form)
    when = None
    if form.get("when") == "at":
        local = str(form.get("at") or "")
        try:
            when = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(settings.timezone))
        except ValueError as exc:
            raise HTTPException(400, t.gettext("Give the date and time to send it.")) from exc
    try:
        broadcast, _ = create(
            session,
            settings,
            staff_id=staff.id,
            texts=_texts(form),
            audience=audience,
            topic=str(form.get("link") or "") or None,
            at=when,
            in_opening_hours=bool(form.get("opening_hours")),
        )
    except BroadcastError as exc:
        raise HTTPException(400, t.gettext("Write the message in at least one language.")) from exc
    session.commit()
    wakeup = getattr(request.app.state, "wakeup", None)
    if wakeup is not None:
        wakeup.set()  # the worker queues it now rather than at its next round
    return RedirectResponse(f"/console/broadcasts/{broadcast.id}", status_code=303)


def _broadcast(session: SessionDep, broadcast_id: int) -> Broadcast:
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise HTTPException(404, N_("There is no such broadcast."))
    return broadcast


@router.get("/broadcasts/{broadcast_id}")
def broadcast_page(
    request: Request, broadcast_id: RowId, session: SessionDep, staff: CurrentBroadcaster
) -> Response:
    broadcast = _broadcast(session, broadcast_id)
    figures = report.figures_by_language(session, broadcast)
    creator = session.get(StaffUser, broadcast.created_by) if broadcast.created_by else None
    return render(
        request,
        "broadcast.html",
        {
            "broadcast": broadcast,
            "figures": figures,
            "names": report.FIGURES,
            "figure_labels": FIGURE_LABELS,
            "statuses": STATUS_LABELS,
            "language_names": LANGUAGE_NAMES,
            "rtl": RTL_LANGUAGES,
            "creator": creator,
            "can_cancel": broadcast.status != "cancelled",
        },
    )


@router.get("/broadcasts/{broadcast_id}/report.csv")
def broadcast_csv(broadcast_id: RowId, session: SessionDep, staff: CurrentBroadcaster) -> Response:
    broadcast = _broadcast(session, broadcast_id)
    return PlainTextResponse(
        report.as_csv(session, broadcast),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="broadcast-{broadcast_id}.csv"'},
    )


@router.post("/broadcasts/{broadcast_id}/cancel")
def cancel_broadcast(
    broadcast_id: RowId, session: SessionDep, staff: CurrentBroadcaster
) -> Response:
    _broadcast(session, broadcast_id)
    cancel(session, broadcast_id, staff_id=staff.id, now=utcnow())
    session.commit()
    return RedirectResponse(f"/console/broadcasts/{broadcast_id}", status_code=303)
