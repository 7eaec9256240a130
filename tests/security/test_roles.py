"""Role checks: what only an admin may do is refused to staff, on every route.

The list of admin routes is not kept by hand only: a test reads the app's routes and
fails when a route that depends on ``current_admin`` has no refusal test here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.config import Settings
from bot.console.auth import current_admin, current_staff
from bot.models import AuditEntry, ContactRecord, Conversation, Owner, utcnow
from tests.support.factories import add_conversation
from tests.support.staff import Staff, make_staff

ADDRESS = "whatsapp:+32470123987"
# Every route that only an admin may use, with what it needs to be called.
ADMIN_ROUTES = {
    ("GET", "/console/audit"): {},
    ("POST", "/console/conversations/{conversation_id}/reveal"): {},
}
# Console routes anyone may open: logging in, the language switch, the console's files.
PUBLIC_CONSOLE_ROUTES = {
    ("GET", "/console"),
    ("GET", "/console/"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("POST", "/console/locale"),
    ("GET", "/console/static/{name}"),
}


def _depends_on(dependant: Dependant, target: object) -> bool:
    return any(d.call is target or _depends_on(d, target) for d in dependant.dependencies)


def console_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every console route, through included routers."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and (context.path or "").startswith("/console"):
            found += [(method, str(context.path), route) for method in sorted(route.methods)]
    assert len(found) > 20, "the console's routes were not found"
    return found


@pytest.fixture
def staff(engine: Engine, app: FastAPI, client: TestClient) -> Iterator[Staff]:
    member = make_staff(engine, app, "staff@example.org").login()
    yield member
    member.client.close()


@pytest.fixture
def admin(engine: Engine, app: FastAPI, client: TestClient) -> Iterator[Staff]:
    member = make_staff(engine, app, "admin@example.org", role="admin").login()
    yield member
    member.client.close()


@pytest.fixture
def conversation_id(engine: Engine, settings: Settings) -> int:
    with Session(engine) as session:
        conversation = add_conversation(
            session, settings, address=ADDRESS, channel="whatsapp", text="hallo"
        )
        session.commit()
        assert conversation.id is not None
        return conversation.id


def call(member: Staff, method: str, path: str, conversation_id: int):  # type: ignore[no-untyped-def]
    url = path.format(conversation_id=conversation_id)
    return member.get(url) if method == "GET" else member.post(url)


def test_every_admin_route_has_a_refusal_test(app: FastAPI) -> None:
    admin_only = {
        (method, path)
        for method, path, route in console_routes(app)
        if _depends_on(route.dependant, current_admin)
    }
    assert admin_only == set(ADMIN_ROUTES)


def test_every_other_console_route_needs_a_login(app: FastAPI) -> None:
    unguarded = {
        (method, path)
        for method, path, route in console_routes(app)
        if not _depends_on(route.dependant, current_staff)
    }
    assert unguarded <= PUBLIC_CONSOLE_ROUTES


@pytest.mark.parametrize(("method", "path"), sorted(ADMIN_ROUTES))
def test_staff_are_refused_what_only_admins_may_do(
    staff: Staff, admin: Staff, conversation_id: int, method: str, path: str
) -> None:
    refused = call(staff, method, path, conversation_id)
    allowed = call(admin, method, path, conversation_id)

    assert refused.status_code == 403
    assert allowed.status_code == 200


def test_a_refused_reveal_shows_no_number_and_is_not_recorded_as_a_reveal(
    engine: Engine, staff: Staff, conversation_id: int
) -> None:
    response = staff.post(f"/console/conversations/{conversation_id}/reveal")

    assert response.status_code == 403
    assert "470123987" not in response.text
    with Session(engine) as session:
        actions = session.exec(select(AuditEntry.action)).all()
    assert "reveal" not in actions


@pytest.mark.parametrize(
    ("action", "data"),
    [("release", {}), ("transfer", {"to_staff_id": "ADMIN"}), ("close", {})],
)
def test_staff_cannot_take_over_a_colleagues_conversation(
    engine: Engine,
    settings: Settings,
    app: FastAPI,
    staff: Staff,
    admin: Staff,
    conversation_id: int,
    action: str,
    data: dict[str, str],
) -> None:
    colleague = make_staff(engine, app, "colleague@example.org").login()
    assert colleague.post(f"/console/conversations/{conversation_id}/claim").status_code == 303
    form = {k: str(admin.id) if v == "ADMIN" else v for k, v in data.items()}
    if action == "close":
        form = {"topic": "other", "outcome": "answered"}

    refused = staff.post(f"/console/conversations/{conversation_id}/{action}", form)

    assert refused.status_code in (403, 409)
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert (conversation.owner, conversation.assignee_id) == (Owner.staff, colleague.id)
    colleague.client.close()


@pytest.mark.parametrize("action", ["edit", "delete"])
def test_staff_cannot_change_a_colleagues_logged_contact(
    engine: Engine, staff: Staff, admin: Staff, action: str
) -> None:
    with Session(engine) as session:
        record = ContactRecord(
            channel="phone", language="nl", source="console", staff_id=admin.id, minutes=5
        )
        record.started_at = record.created_at = utcnow()
        session.add(record)
        session.commit()
        record_id = record.id

    if action == "edit":
        refused = staff.get(f"/console/log/{record_id}")
    else:
        refused = staff.post(f"/console/log/{record_id}/delete")

    assert refused.status_code == 403
    with Session(engine) as session:
        assert session.get(ContactRecord, record_id) is not None
