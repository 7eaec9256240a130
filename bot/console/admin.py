"""Pages for administrators: the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from bot import audit
from bot.audit import Action
from bot.console import queries
from bot.console.auth import CurrentAdmin
from bot.console.i18n import N_
from bot.console.routing import console_router
from bot.console.templating import render
from bot.deps import MAX_ROW_ID, SessionDep

router = console_router()
PAGE_SIZE = 100
ACTION_LABELS = {
    Action.login: N_("Logged in"),
    Action.login_failed: N_("Failed to log in"),
    Action.logout: N_("Logged out"),
    Action.claim: N_("Took a conversation"),
    Action.release: N_("Put a conversation back in the queue"),
    Action.transfer: N_("Handed a conversation to a colleague"),
    Action.close: N_("Closed a conversation"),
    Action.reply: N_("Answered"),
    Action.note: N_("Wrote an internal note"),
    Action.reveal: N_("Revealed an address"),
    Action.export: N_("Exported"),
    Action.erase: N_("Erased a person's data"),
    Action.staff_added: N_("Added a staff account"),
    Action.broadcast: N_("Sent a broadcast"),
    Action.broadcast_cancelled: N_("Cancelled a broadcast"),
    Action.broadcaster: N_("Changed who may send broadcasts"),
}


def target_of(target: str | None) -> tuple[str, dict[str, str], str | None]:
    """What an entry concerns: a message id to translate, its values, and a link if
    the console has a page for it (a conversation)."""
    kind, _, ident = (target or "").partition(":")
    if kind == "conversation" and ident.isdigit():
        return N_("Conversation %(id)s"), {"id": ident}, f"/console/conversations/{ident}"
    if kind == "contact" and ident.isdigit():
        return N_("Person %(id)s"), {"id": ident}, None
    if kind == "staff" and ident.isdigit():
        return N_("Staff account %(id)s"), {"id": ident}, None
    if kind == "broadcast" and ident.isdigit():
        return N_("Broadcast %(id)s"), {"id": ident}, f"/console/broadcasts/{ident}"
    if kind == "contact_records":
        return N_("Statistics"), {}, "/console/stats"
    return "%(target)s", {"target": target or ""}, None


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
        "action_labels": ACTION_LABELS,
        "target_of": target_of,
        "action": action,
        "older": older,
    }
    return render(request, "audit.html", context)
