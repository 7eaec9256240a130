"""A staff member's own snippets for the reply box: listed, added and deleted by them.

The team's snippets are shipped in ``snippets.yaml`` and translated like what the bot
says (``canned.team_snippets``); these are each staff member's own, as they wrote them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from bot.console.auth import CurrentStaff
from bot.console.i18n import N_
from bot.console.routing import console_router
from bot.console.templating import render, translator
from bot.deps import RowId, SessionDep
from bot.models import StaffSnippet

router = console_router()
MAX_SNIPPETS = 50


@router.get("/snippets")
def snippets_page(request: Request, session: SessionDep, staff: CurrentStaff) -> Response:
    mine = session.exec(
        select(StaffSnippet)
        .where(col(StaffSnippet.staff_id) == staff.id)
        .order_by(col(StaffSnippet.title), col(StaffSnippet.id))
    ).all()
    return render(request, "snippets.html", {"snippets": mine})


@router.post("/snippets")
def add_snippet(
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    title: Annotated[str, Form(max_length=80)],
    text: Annotated[str, Form(max_length=2000)],
) -> Response:
    t = translator(request)
    title, text = title.strip(), text.replace("\r\n", "\n").strip()
    if not title or not text:
        raise HTTPException(400, t.gettext("A snippet needs a name and a text."))
    count = len(
        session.exec(select(StaffSnippet.id).where(col(StaffSnippet.staff_id) == staff.id)).all()
    )
    if count >= MAX_SNIPPETS:
        raise HTTPException(400, t.gettext("You have the most snippets allowed: delete one first."))
    assert staff.id is not None
    session.add(StaffSnippet(staff_id=staff.id, title=title, text=text))
    session.commit()
    return RedirectResponse("/console/snippets", status_code=303)


@router.post("/snippets/{snippet_id}/delete")
def delete_snippet(snippet_id: RowId, session: SessionDep, staff: CurrentStaff) -> Response:
    snippet = session.get(StaffSnippet, snippet_id)
    if snippet is None or snippet.staff_id != staff.id:
        raise HTTPException(404, N_("There is no such snippet."))
    session.delete(snippet)
    session.commit()
    return RedirectResponse("/console/snippets", status_code=303)
