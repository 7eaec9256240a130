"""The shift's smaller needs, over HTTP: an old button tap reads as what was tapped,
the audit log speaks the staff member's language and links to what it concerns, a
manual entry dated long ago is confirmed first, and one language before and after
logging in."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.config import Settings
from bot.models import ContactRecord, Direction, Message, Sender, StaffUser, utcnow
from tests.support.factories import PASSWORD, add_conversation
from tests.support.staff import Staff, csrf_token, make_staff


def test_an_old_button_tap_is_shown_as_what_was_tapped(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    with Session(engine) as session:
        conversation = add_conversation(session, settings, address="1", language="en")
        assert conversation.id is not None
        for message in (
            Message(
                conversation_id=conversation.id,
                channel="telegram",
                direction=Direction.outbound,
                sender=Sender.bot,
                text="Did this help?",
                buttons=[{"payload": "helped.no", "title": "No"}],
            ),
            Message(
                conversation_id=conversation.id,
                channel="telegram",
                direction=Direction.outbound,
                sender=Sender.bot,
                text="Choose a topic",
                buttons=[{"payload": "topic:work", "title": "Work"}],
            ),
            # A tap on the earlier message's button: stored without a text.
            Message(
                conversation_id=conversation.id,
                channel="telegram",
                direction=Direction.inbound,
                sender=Sender.user,
                button="helped.no",
            ),
        ):
            session.add(message)
        session.commit()
        conversation_id = conversation.id

    page = alice.get(f"/console/conversations/{conversation_id}").text

    assert "Tapped: No" in page
    assert "deleted after the retention period" not in page


def test_the_audit_log_shows_actions_in_words_and_links_to_the_conversation(
    engine: Engine, settings: Settings, alice: Staff, admin: Staff
) -> None:
    with Session(engine) as session:
        conversation_id = add_conversation(session, settings, address="1").id
        session.commit()
    alice.post(f"/console/conversations/{conversation_id}/claim")
    admin.post("/console/locale", {"locale": "nl", "back": "/console/audit"})

    page = admin.get("/console/audit").text

    assert "Nam een gesprek" in page  # "claim", translated
    assert f'<a href="/console/conversations/{conversation_id}">Gesprek {conversation_id}</a>' in (
        page
    )


def test_a_manual_entry_dated_long_ago_asks_for_confirmation(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    long_ago = (utcnow() - timedelta(days=75)).date().isoformat()
    entry = {"channel": "phone", "language": "nl", "day": long_ago, "time": "10:00"}

    asked = alice.post("/console/log", entry)

    assert asked.status_code == 400
    assert "more than 60 days ago" in asked.text
    assert 'name="confirm_old"' in asked.text
    assert f'value="{long_ago}"' in asked.text  # the input is kept
    with Session(engine) as session:
        assert session.exec(select(ContactRecord)).all() == []
    assert alice.post("/console/log", {**entry, "confirm_old": "yes"}).status_code == 303
    recent = (utcnow() - timedelta(days=10)).date().isoformat()
    assert alice.post("/console/log", {**entry, "day": recent}).status_code == 303


def test_the_login_page_and_the_console_speak_the_same_language(
    engine: Engine, app: FastAPI
) -> None:
    staff = make_staff(engine, app, "carla@example.org")  # her account says English
    client = TestClient(app, headers={"accept": "text/html", "accept-language": "en"})
    token = csrf_token(client)
    client.post(
        "/console/locale", data={"locale": "fr", "back": "/console/login", "csrf_token": token}
    )
    assert "Mot de passe" in client.get("/console/login").text

    client.post(
        "/console/login",
        data={"email": staff.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )

    assert "File d'attente" in client.get("/console/queue").text
    with Session(engine) as session:
        user = session.exec(select(StaffUser).where(StaffUser.email == staff.email)).one()
        assert user.locale == "fr"
    # Logged out, the login page stays in the console's language.
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/queue")})
    assert "Mot de passe" in client.get("/console/login").text
    client.close()
