""" "Delete my data" is answered and honoured whoever holds the conversation.

While a conversation waits in the queue or is with a staff member the bot is silent,
and it used to be silent to "delete my data" and /delete too: nothing was answered,
nothing erased. Now the delete flow runs as it does with the bot (it asks first; on
"Yes, delete" it says goodbye and erases), the conversation leaves the queue and the
staff member's list, and staff find it in the audit log and on its page.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot import handoff, inbox, outbox
from bot.app import create_app
from bot.channels import build_channels
from bot.config import Settings
from bot.console import signals
from bot.dialogue.engine import FlowEngine, load_flows
from bot.hours import OpeningHours
from bot.models import (
    AuditEntry,
    Contact,
    ContactRecord,
    Conversation,
    Message,
    Owner,
    Sender,
    utcnow,
)
from bot.nlu.knowledge import get_knowledge
from bot.privacy.erasure import finish_erasures
from tests.console.test_live import logged_in, read_events
from tests.support.channels import fixture
from tests.support.factories import add_staff
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.flows import MONDAY_MORNING, SAMPLES, Chat, FakeMatcher
from tests.support.live_server import LiveServer
from tests.support.staff import Staff, make_staff

SECRET = "erasure-test-secret"
CHAT_ID = 5550001234
QUESTION = "Do you want us to delete everything you wrote to us? This cannot be undone."
GOODBYE = (
    "Your messages and data are deleted. If you write to us again, we start a new conversation."
)
_ids = itertools.count(700_000_001)


@pytest.fixture
def settings(settings: Settings, fake_telegram: FakeTelegramAPI) -> Settings:
    fake_telegram.configure(settings, webhook_secret=SECRET)
    settings.run_worker = False  # the test runs the jobs
    return settings


@pytest.fixture
def flows(settings: Settings) -> FlowEngine:
    return FlowEngine(
        settings,
        load_flows(settings.flows_dir),
        get_knowledge(settings),
        FakeMatcher(),
        OpeningHours.from_settings(settings),
    )


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    return create_app(settings, engine)


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def alice(engine: Engine, app: FastAPI) -> Iterator[Staff]:
    staff = make_staff(engine, app, "alice@example.org").login()
    yield staff
    staff.client.close()


def telegram(
    web: TestClient | httpx.Client, *, text: str | None = None, data: str | None = None
) -> None:
    """The person writes (or presses a button) on Telegram: the real webhook."""
    if data is None:
        update = copy.deepcopy(fixture("telegram", "text"))
        update["message"]["text"] = text
        update["message"]["message_id"] = next(_ids)
    else:
        update = copy.deepcopy(fixture("telegram", "callback_query"))
        update["callback_query"]["id"] = f"cb{next(_ids)}"
        update["callback_query"]["data"] = data
    update["update_id"] = next(_ids)
    response = web.post(
        "/webhooks/telegram",
        content=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 200, response.text


async def worker(engine: Engine, settings: Settings, flows: FlowEngine) -> None:
    """The worker's jobs: answer what is due, then send everything in the outbox."""
    later = utcnow() + timedelta(seconds=settings.debounce_seconds + 1)
    inbox.process_due(engine, settings, now=later, flows=flows)
    channels = build_channels(settings)
    try:
        while await outbox.send_due(engine, settings, now=later, channels=channels):
            pass
    finally:
        await channels.aclose()


def count(engine: Engine, table: Any) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def the_conversation(engine: Engine) -> Conversation:
    with Session(engine) as session:
        return session.exec(select(Conversation)).one()


@pytest.mark.parametrize("request_text", ["delete my data", "/delete"])
@pytest.mark.parametrize("held_by", [Owner.queue, Owner.staff])
async def test_delete_my_data_while_with_staff_is_answered_and_erases_everything(
    web: TestClient,
    engine: Engine,
    settings: Settings,
    flows: FlowEngine,
    fake_telegram: FakeTelegramAPI,
    alice: Staff,
    held_by: str,
    request_text: str,
) -> None:
    telegram(web, text=SAMPLES["en"]["human"])
    await worker(engine, settings, flows)
    telegram(web, data="consent.yes")  # then the question is answered: a person, please
    await worker(engine, settings, flows)
    conversation_id = the_conversation(engine).id
    assert the_conversation(engine).owner == Owner.queue
    if held_by == Owner.staff:
        assert alice.post(f"/console/conversations/{conversation_id}/claim").status_code == 303
    telegram(web, text="Hello? Is anyone there?")
    await worker(engine, settings, flows)
    before = len(fake_telegram.sent_to(CHAT_ID))

    telegram(web, text=request_text)
    await worker(engine, settings, flows)

    asked = fake_telegram.sent_to(CHAT_ID)[before:]
    assert [m.text for m in asked] == [QUESTION]
    assert asked[0].button_payloads == ["delete.yes", "delete.no"]
    assert the_conversation(engine).owner == held_by  # asked, not yet erased

    telegram(web, data="delete.yes")
    await worker(engine, settings, flows)

    assert [m.text for m in fake_telegram.sent_to(CHAT_ID)[before + 1 :]] == [GOODBYE]
    queue = alice.get("/console/queue").text
    assert f'data-conversation="{conversation_id}"' not in queue  # not waiting, not hers
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert "The person asked us to delete their data" in page
    assert "Hello? Is anyone there?" not in page
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "erase")).all()
    assert [(e.staff_id, e.target) for e in entries] == [(None, f"conversation:{conversation_id}")]
    assert entries[0].detail is not None and held_by in entries[0].detail

    assert finish_erasures(engine, settings, now=utcnow()) == 1
    assert (count(engine, Contact), count(engine, Conversation), count(engine, Message)) == (
        0,
        0,
        0,
    )
    assert count(engine, ContactRecord) == 1  # the anonymous count stays
    assert alice.get(f"/console/conversations/{conversation_id}").status_code == 404


async def test_keep_my_data_while_with_staff_erases_nothing(
    web: TestClient,
    engine: Engine,
    settings: Settings,
    flows: FlowEngine,
    fake_telegram: FakeTelegramAPI,
    alice: Staff,
) -> None:
    telegram(web, text=SAMPLES["en"]["human"])
    await worker(engine, settings, flows)
    telegram(web, data="consent.yes")
    await worker(engine, settings, flows)
    conversation_id = the_conversation(engine).id
    assert alice.post(f"/console/conversations/{conversation_id}/claim").status_code == 303
    telegram(web, text="/delete")
    await worker(engine, settings, flows)

    telegram(web, data="delete.no")
    await worker(engine, settings, flows)

    assert fake_telegram.sent_to(CHAT_ID)[-1].text == "Nothing was deleted."
    conversation = the_conversation(engine)
    assert (conversation.owner, conversation.assignee_id) == (Owner.staff, alice.id)
    assert count(engine, AuditEntry) == 2  # alice's login and claim: no erasure


def test_a_number_typed_to_staff_after_the_question_is_not_taken_as_the_answer(
    engine: Engine, settings: Settings, flows: FlowEngine
) -> None:
    """On WhatsApp a typed "1" presses the first button, but once staff have written
    since the question, a "1" is an answer to them, not "Yes, delete"."""
    chat = Chat(engine, settings, flows, channel="whatsapp", address="whatsapp:+32470555666")
    chat.consent("en")
    chat.send(SAMPLES["en"]["human"])
    with Session(engine) as session:
        staff = make_staff_user(session)
        assert handoff.claim(session, chat.conversation().id or 0, staff, MONDAY_MORNING)
        session.commit()
    asked = chat.send("/delete")
    assert asked[0].payloads == ["delete.yes", "delete.no"]
    with Session(engine) as session:
        conversation = session.get(Conversation, chat.conversation().id)
        assert conversation is not None
        outbox.enqueue(
            session,
            conversation,
            "Which appointment suits you, 1 (Monday) or 2 (Tuesday)?",
            sender=Sender.staff,
            staff_id=staff,
            language="en",
            now=chat.now,
            settings=settings,
        )
        session.commit()
    assert [r.text for r in chat.replies()] == [
        "Which appointment suits you, 1 (Monday) or 2 (Tuesday)?"
    ]

    assert chat.send("1") == []

    assert chat.conversation().owner == Owner.staff
    assert count(engine, Contact) == 1
    assert chat.press("delete.yes")[0].text == GOODBYE  # the button itself still works


def make_staff_user(session: Session) -> int:
    user = add_staff(session, "bob@example.org")
    assert user.id is not None
    return user.id


async def test_the_staff_members_open_page_hears_that_the_conversation_is_gone(
    engine: Engine, settings: Settings, flows: FlowEngine, app: FastAPI, alice: Staff
) -> None:
    """Her page follows the conversation live: closed when erased, then gone (its
    stream used to fail once the conversation was deleted)."""
    app.state.console_poll_seconds = 0.05
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as telegram_servers:
        telegram(telegram_servers, text=SAMPLES["en"]["human"])
        await worker(engine, settings, flows)
        telegram(telegram_servers, data="consent.yes")
        await worker(engine, settings, flows)
        conversation_id = the_conversation(engine).id
        assert alice.post(f"/console/conversations/{conversation_id}/claim").status_code == 303
        telegram(telegram_servers, text="delete my data")
        await worker(engine, settings, flows)

        browser = logged_in(server, alice.email)
        path = f"/console/conversations/{conversation_id}/events"
        with browser.stream("GET", path) as response:
            events = read_events(response)
            assert next_state(events) == f"staff:{alice.id}"

            telegram(telegram_servers, data="delete.yes")
            await worker(engine, settings, flows)
            assert next_state(events, since=f"staff:{alice.id}") == f"closed:{alice.id}"

            assert finish_erasures(engine, settings, now=utcnow()) == 1
            assert next_state(events, since=f"closed:{alice.id}") == "gone"
        browser.close()


def next_state(events: Iterator[tuple[str, str]], since: str | None = None) -> str:
    """The next state the page is told (a new message repeats the one it had)."""
    return next(data for event, data in events if event == "state" and data != since)


async def test_a_conversation_erased_while_its_page_is_drawn_is_reported_gone(
    engine: Engine,
    settings: Settings,
    flows: FlowEngine,
    app: FastAPI,
    alice: Staff,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The erasure lands between reading the transcript and marking it seen: the page
    gets what was read, then 'gone' (it used to read the erased row again and break)."""
    app.state.console_poll_seconds = 0.05
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as telegram_servers:
        telegram(telegram_servers, text=SAMPLES["en"]["human"])
        await worker(engine, settings, flows)
        telegram(telegram_servers, data="consent.yes")
        await worker(engine, settings, flows)
        conversation_id = the_conversation(engine).id
        assert alice.post(f"/console/conversations/{conversation_id}/claim").status_code == 303
        telegram(telegram_servers, text="delete my data")
        await worker(engine, settings, flows)
        telegram(telegram_servers, data="delete.yes")
        await worker(engine, settings, flows)

        mark_seen = signals.mark_seen

        def erased_meanwhile(session: Session, staff_id: int, conversation_id: int) -> None:
            assert finish_erasures(engine, settings, now=utcnow()) == 1
            mark_seen(session, staff_id, conversation_id)

        monkeypatch.setattr(signals, "mark_seen", erased_meanwhile)
        browser = logged_in(server, alice.email)
        path = f"/console/conversations/{conversation_id}/events"
        with browser.stream("GET", path) as response:
            events = read_events(response)
            assert next_state(events) == f"closed:{alice.id}"
            assert next_state(events, since=f"closed:{alice.id}") == "gone"
        browser.close()
        assert count(engine, Conversation) == 0


STOPPED = (
    "You will get no more messages sent to everyone. You can still write to us at any time. "
    "To get them again, send START."
)


@pytest.mark.parametrize("request_text", ["STOP", "/stop"])
@pytest.mark.parametrize("held_by", [Owner.queue, Owner.staff])
async def test_stop_while_with_staff_ends_broadcasts_and_leaves_the_conversation_with_them(
    web: TestClient,
    engine: Engine,
    settings: Settings,
    flows: FlowEngine,
    fake_telegram: FakeTelegramAPI,
    alice: Staff,
    held_by: str,
    request_text: str,
) -> None:
    telegram(web, text=SAMPLES["en"]["human"])
    await worker(engine, settings, flows)
    telegram(web, data="consent.yes")
    await worker(engine, settings, flows)
    conversation_id = the_conversation(engine).id
    if held_by == Owner.staff:
        assert alice.post(f"/console/conversations/{conversation_id}/claim").status_code == 303
    before = len(fake_telegram.sent_to(CHAT_ID))

    telegram(web, text=request_text)
    await worker(engine, settings, flows)

    assert [m.text for m in fake_telegram.sent_to(CHAT_ID)[before:]] == [STOPPED]
    with Session(engine) as session:
        contact = session.exec(select(Contact)).one()
    assert contact.broadcasts_opted_out_at is not None
    assert the_conversation(engine).owner == held_by  # still theirs to answer
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert request_text in page  # staff see what the person wrote

    telegram(web, text="Thank you, and my question about school?")
    await worker(engine, settings, flows)
    assert len(fake_telegram.sent_to(CHAT_ID)) == before + 1  # the bot is silent again
