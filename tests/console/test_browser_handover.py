"""A shift in a real headless Chromium: a transfer with a message seen live by the
colleague, a person who writes again going back to the staff member who helped them,
and a Pashto message translated by the organisation's (fake) translation server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.conversations import find_contact
from bot.models import Conversation, Owner, StaffUser, utcnow
from tests.console import test_browser as chromium
from tests.support.browser import BROWSER_TESTS
from tests.support.factories import add_conversation
from tests.support.fakes.server import Fault
from tests.support.fakes.translate_api import FakeTranslateAPI
from tests.support.live_server import LiveServer

pytestmark = BROWSER_TESTS
# The Chromium set-up of the console's first browser tests (fixtures and helpers).
browser, settings, server, open_console = (
    chromium.browser,
    chromium.settings,
    chromium.server,
    chromium.open_console,
)
CHAT_ID, run_inbox, telegram_webhook = (
    chromium.CHAT_ID,
    chromium.run_inbox,
    chromium.telegram_webhook,
)

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

PASHTO = "زه غواړم د خپلې کورنۍ د راوستلو په اړه پوښتنه وکړم"
PASHTO_IN_ENGLISH = "I want to ask about bringing my family"
DRAFT = "You can apply for family reunification at the embassy."
DRAFT_IN_PASHTO = "تاسو کولای شئ د کورنۍ د یوځای کېدو غوښتنه په سفارت کې وکړئ."


def staff_id(engine: Engine, email: str) -> int:
    with Session(engine) as session:
        user = session.exec(select(StaffUser).where(StaffUser.email == email)).one()
        assert user.id is not None
        return user.id


def test_a_transfer_message_is_seen_live_by_the_colleague(
    open_console: object, server: LiveServer, engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        conversation_id = add_conversation(session, settings, address="1", text="Salam").id
        session.commit()
    alice = open_console("alice@example.org")  # type: ignore[operator]
    bob = open_console("bob@example.org")  # type: ignore[operator]
    expect(bob.page.locator("#queue")).to_contain_text("Salam")
    bob.page.evaluate("window.notReloaded = true")
    expect(bob.page.locator("#handovers")).to_be_empty()

    alice.page.goto(f"{server.url}/console/conversations/{conversation_id}")
    alice.page.click("button.claim")
    transfer = alice.page.locator("form.transfer")
    transfer.locator("select[name=to_staff_id]").select_option(label="bob")
    transfer.locator("input[name=message]").fill("Speaks Pashto; asked about her family, call back")
    transfer.locator("button[type=submit]").click()
    expect(alice.page.locator("p.notice")).to_contain_text("handed to your colleague")

    handover = bob.page.locator("#handovers li.handover")
    expect(handover).to_contain_text("alice handed you conversation")
    expect(handover.locator(".handover-message")).to_have_text(
        "Speaks Pashto; asked about her family, call back"
    )
    assert bob.page.evaluate("window.notReloaded") is True  # it arrived live
    handover.locator("a").click()
    note = bob.page.locator(".msg-note").last
    expect(note.locator(".who")).to_have_text("Handed to bob by alice")
    expect(note.locator(".text")).to_have_text("Speaks Pashto; asked about her family, call back")
    expect(bob.page.locator("form.reply")).to_be_visible()  # bob holds it now
    assert not alice.errors and not bob.errors


def test_a_returning_person_goes_back_to_the_staff_member_who_helped(
    open_console: object, server: LiveServer, engine: Engine, settings: Settings
) -> None:
    alice = open_console("alice@example.org")  # type: ignore[operator]
    open_console("bob@example.org")  # type: ignore[operator]
    alice_id = staff_id(engine, "alice@example.org")
    with Session(engine) as session:
        earlier = add_conversation(session, settings, address=str(CHAT_ID), language="en")
        contact = find_contact(session, settings, "telegram", str(CHAT_ID))
        assert contact is not None
        contact.language, contact.consent_at = "en", utcnow() - timedelta(hours=3)
        earlier.owner, earlier.assignee_id = Owner.closed, alice_id
        earlier.closed_at, earlier.topic, earlier.outcome = (
            utcnow() - timedelta(hours=2),
            "asylum.apply",
            "answered",
        )
        session.add_all([contact, earlier])
        session.commit()
        earlier_id = earlier.id
    page = alice.page
    expect(page.locator("#queue")).to_contain_text("Nobody is waiting")
    page.evaluate("window.notReloaded = true")

    telegram_webhook(server, "One more question about my appointment")
    run_inbox(engine, settings)

    mine = page.locator("#mine")
    expect(mine).to_contain_text("One more question about my appointment")
    expect(page.locator("#waiting")).to_have_count(0)  # not in the queue for everyone
    assert page.evaluate("window.notReloaded") is True
    mine.locator("a").first.click()
    expect(page.locator("form.reply")).to_be_visible()  # hers, no need to take it
    page.locator("details.earlier summary").click()
    expect(page.locator(f'#earlier a[href="/console/conversations/{earlier_id}"]')).to_be_visible()
    with Session(engine) as session:
        newest = session.exec(select(Conversation).order_by(col(Conversation.id).desc())).first()
        assert newest is not None
        assert (newest.owner, newest.assignee_id) == (Owner.staff, alice_id)
    assert not alice.errors


@pytest.fixture
def fake_translate() -> Iterator[FakeTranslateAPI]:
    with FakeTranslateAPI() as fake:
        yield fake


def test_a_pashto_message_is_translated_on_request_and_a_draft_for_review(
    open_console: object,
    server: LiveServer,
    engine: Engine,
    settings: Settings,
    fake_translate: FakeTranslateAPI,
) -> None:
    settings.translate_url = fake_translate.url
    fake_translate.learn(PASHTO, "en", PASHTO_IN_ENGLISH)
    fake_translate.learn(DRAFT, "ps", DRAFT_IN_PASHTO)
    with Session(engine) as session:
        conversation_id = add_conversation(session, settings, address="1", text=PASHTO).id
        session.commit()
    alice = open_console("alice@example.org")  # type: ignore[operator]
    page = alice.page
    page.goto(f"{server.url}/console/conversations/{conversation_id}")
    page.click("button.claim")

    message = page.locator(".msg-in").first
    message.locator("button.translate-message").click()
    translation = message.locator(".translation")
    expect(translation.locator(".translation-label")).to_have_text("Machine translation")
    expect(translation.locator(".translated")).to_have_text(PASHTO_IN_ENGLISH)
    expect(message.locator(".text").first).to_have_text(PASHTO)  # the original stays

    page.fill("#reply-text", DRAFT)
    page.click("#translate-draft")
    expect(page.locator("#reply-text")).to_have_value(DRAFT_IN_PASHTO)
    expect(page.locator("#draft-translation .draft-original")).to_have_text(DRAFT)
    with Session(engine) as session:  # reviewed, not sent: nothing went out
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.first_response_at is None

    fake_translate.fail_next(Fault.error(503))
    page.fill("#reply-text", "Another draft")
    page.click("#translate-draft")
    expect(page.locator("#translate-status")).to_contain_text(
        "The translation service did not answer"
    )
    expect(page.locator("#reply-text")).to_have_value("Another draft")  # left as it was
    assert not [e for e in alice.errors if "Content Security Policy" in e]
