"""Pages for administrators: the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from bot import audit
from bot.audit import Action
from bot.console import queries
from bot.console.auth import CurrentAdmin
from bot.console.routing import console_router
from bot.console.templating import render
from bot.deps import MAX_ROW_ID, SessionDep

router = console_router()
PAGE_SIZE = 100


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    action: str | None = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    if action not in Action.__members__.values():
        action = None
    entries = audit.recent(session, limit=PAGE_SIZE, before_id=before, action=action)
    names = queries.staff_names(session, {e.staff_id for e in entries if e.staff_id})
    older = entries[-1].id if len(entries) == PAGE_SIZE else None
    context = {
        "entries": entries,
        "names": names,
        "actions": [a.value for a in Action],
        "action": action,
        "older": older,
    }
    return render(request, "audit.html", context)
