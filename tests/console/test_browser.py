"""The console in a real headless Chromium, against a real server and a fake Telegram.

A person writes on Telegram (a real webhook request), the inbox hands the
conversation over, and the staff member sees it arrive in the queue without
reloading, takes it, sends a canned answer that leaves through the fake Telegram
API, and closes it with a topic.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import inbox, outbox
from bot.channels import build_channels
from bot.config import Settings
from bot.dialogue.engine import get_flow_engine
from bot.hours import OpeningHours
from bot.i18n import answer_text, strip_isolates
from bot.models import Conversation, Owner, utcnow
from bot.nlu import Match
from bot.nlu.knowledge import get_knowledge
from tests.support.browser import BROWSER_TESTS, launch_chromium
from tests.support.factories import PASSWORD, add_conversation, add_staff
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.live_server import LiveServer

SECRET = "console-browser-secret"
PASHTO_URGENT = "مرسته وکړئ، زما میړه ما وهي او چاقو لري"
CHAT_ID = 5550007001
_ids = itertools.count(920_000_001)

pytestmark = BROWSER_TESTS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


class UrgentPashtoMatcher:
    """Stands in for the matcher: knows one urgent Pashto sentence, abstains otherwise."""

    def match(self, text: str, lang: str | None = None) -> Match:
        urgent = PASHTO_URGENT in text
        detected = "ps" if urgent else (lang or "en")
        return Match(
            topic="urgent" if urgent else None,
            score=0.95 if urgent else 0.1,
            lang=lang or detected,
            detected_lang=detected,
            lang_confidence=0.95,
            urgent=urgent,
            candidates=(),
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def settings(settings: Settings, fake_telegram: FakeTelegramAPI) -> Settings:
    fake_telegram.configure(settings, webhook_secret=SECRET)
    settings.run_worker = False  # the test runs the inbox and outbox jobs itself
    settings.provider_timeout_seconds = 2.0
    return settings


@pytest.fixture
def server(app: FastAPI, live_server: LiveServer) -> LiveServer:
    app.state.console_poll_seconds = 0.2
    return live_server


@dataclass
class Browsing:
    """One staff member's browser window, with what went wrong on the page."""

    page: object
    errors: list[str]
    dialogs: list[str]


@pytest.fixture
def open_console(browser: object, server: LiveServer, engine: Engine) -> Iterator[object]:
    contexts = []

    def open_as(email: str) -> Browsing:
        with Session(engine) as session:
            add_staff(session, email)
            session.commit()
        context = browser.new_context(locale="en-GB")  # type: ignore[attr-defined]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        browsing = Browsing(page, [], [])
        page.on("console", lambda m: browsing.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: browsing.errors.append(str(e)))
        page.on("dialog", lambda d: (browsing.dialogs.append(d.message), d.dismiss()))
        page.goto(f"{server.url}/console/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit] >> text=Log in")
        expect(page).to_have_url(f"{server.url}/console/queue")
        return browsing

    yield open_as
    for context in contexts:
        context.close()


def telegram_webhook(server: LiveServer, text: str) -> None:
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "telegram" / "text.json"
    update = copy.deepcopy(json.loads(fixture.read_text("utf-8")))
    update["update_id"] = next(_ids)
    update["message"]["message_id"] = next(_ids)
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = CHAT_ID
    update["message"]["text"] = text
    response = httpx.post(
        f"{server.url}/webhooks/telegram",
        content=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 200, response.text


def run_inbox(engine: Engine, settings: Settings) -> None:
    flows = get_flow_engine(settings, matcher=UrgentPashtoMatcher())
    later = utcnow() + timedelta(seconds=settings.debounce_seconds + 1)
    inbox.process_due(engine, settings, now=later, flows=flows)


def run_outbox(engine: Engine, settings: Settings) -> None:
    """The worker's outbox job, on its own event loop (the browser API owns this thread)."""
    later = utcnow() + timedelta(seconds=settings.debounce_seconds + 1)  # as run_inbox

    async def send_all() -> None:
        channels = build_channels(settings)
        try:
            while await outbox.send_due(engine, settings, now=later, channels=channels):
                pass
        finally:
            await channels.aclose()

    failures: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(send_all())
        except BaseException as exc:  # reported in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def test_a_pashto_conversation_from_webhook_to_closing(
    open_console: object,
    server: LiveServer,
    engine: Engine,
    settings: Settings,
    fake_telegram: FakeTelegramAPI,
) -> None:
    staff = open_console("alice@example.org")  # type: ignore[operator]
    page = staff.page
    expect(page.locator("#queue")).to_contain_text("Nobody is waiting")
    page.evaluate("window.notReloaded = true")

    telegram_webhook(server, PASHTO_URGENT)
    run_inbox(engine, settings)

    row = page.locator("#waiting tr.urgent")
    expect(row).to_contain_text(PASHTO_URGENT)
    expect(row).to_contain_text("Pashto")
    expect(row).to_contain_text("telegram")
    expect(row.locator(".urgent-badge")).to_have_text("Urgent")
    assert page.evaluate("window.notReloaded") is True  # it arrived live

    row.locator("button.claim").click()
    expect(page.locator("form.reply")).to_be_visible()
    person = page.locator(".msg-in .text").first
    expect(person).to_have_text(PASHTO_URGENT)
    expect(person).to_have_css("direction", "rtl")

    hours = OpeningHours.from_settings(settings)
    kb = get_knowledge(settings)
    # As the person reads them: the organisation's details filled in.
    pashto = answer_text(settings, hours, kb.answer("asylum.apply", "ps").answer, "ps")
    english = answer_text(settings, hours, kb.answer("asylum.apply", "en").answer, "en")
    canned = page.locator('details.canned[data-topic="asylum.apply"]')
    canned.locator("summary").click()
    expect(canned.locator(".canned-sent .text")).to_have_text(pashto)
    expect(canned.locator(".canned-reference .text")).to_have_text(english)
    canned.locator("button.use-canned").click()
    expect(page.locator("#reply-text")).to_have_value(pashto)
    page.click("form.reply button[type=submit]")

    expect(page.locator("p.notice")).to_contain_text("on its way")
    expect(page.locator(".msg-out.sender-staff .status")).to_have_text("queued")
    page.evaluate("window.notReloaded = true")
    run_outbox(engine, settings)
    # The bot's emergency answers go first, then the staff member's canned answer.
    sent = [strip_isolates(m.text) for m in fake_telegram.sent_to(CHAT_ID)]
    assert sent[-1] == pashto.strip()
    assert sent.count(pashto.strip()) == 1
    expect(page.locator(".msg-out.sender-staff .status")).to_have_text("sent")
    assert page.evaluate("window.notReloaded") is True

    page.select_option("form.close select[name=topic]", "asylum.apply")
    page.select_option("form.close select[name=outcome]", "answered")
    page.click("form.close button[type=submit]")
    expect(page.locator("p.notice")).to_contain_text("closed")
    # The status names the topic by its title, not its id.
    expect(page.locator("dd.owner")).to_contain_text(kb.answer("asylum.apply", "en").title)
    with Session(engine) as session:
        conversation = session.exec(select(Conversation)).one()
        assert (conversation.owner, conversation.topic, conversation.outcome) == (
            Owner.closed,
            "asylum.apply",
            "answered",
        )
    assert not [e for e in staff.errors if "Content Security Policy" in e]
    assert not staff.dialogs


def test_two_browsers_taking_the_same_conversation_give_it_to_one(
    open_console: object, server: LiveServer, engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        conversation_id = add_conversation(session, settings, address="1", text="Hello?").id
        session.commit()
    alice = open_console("alice@example.org")  # type: ignore[operator]
    bob = open_console("bob@example.org")  # type: ignore[operator]
    for staff in (alice, bob):
        staff.page.goto(f"{server.url}/console/conversations/{conversation_id}")
        expect(staff.page.locator("button.claim")).to_be_visible()

    # Both press "Take" at the same moment (neither page has reloaded yet).
    for staff in (alice, bob):
        staff.page.evaluate("document.querySelector('form button.claim').form.requestSubmit()")

    for staff in (alice, bob):
        expect(staff.page.locator("form.reply, .error")).to_be_visible()
    winners = [staff for staff in (alice, bob) if staff.page.locator("form.reply").count()]
    losers = [staff for staff in (alice, bob) if staff not in winners]
    assert len(winners) == 1 and len(losers) == 1
    expect(losers[0].page.locator(".error")).to_contain_text("Someone else already took")
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.owner == Owner.staff


def test_a_script_a_person_writes_is_shown_as_text(
    open_console: object, server: LiveServer, engine: Engine, settings: Settings
) -> None:
    attack = "<script>document.title='pwned'</script><img src=x onerror=\"alert('pwned')\">"
    staff = open_console("alice@example.org")  # type: ignore[operator]
    page = staff.page
    expect(page.locator("#queue")).to_contain_text("Nobody is waiting")

    with Session(engine) as session:
        conversation_id = add_conversation(
            session, settings, address="1", language="en", text=attack
        ).id
        session.commit()
    # Through the live update (which replaces the queue's HTML) ...
    expect(page.locator("#waiting td.snippet")).to_have_text(attack)
    # ... and on the conversation page.
    page.goto(f"{server.url}/console/conversations/{conversation_id}")
    expect(page.locator(".msg-in .text")).to_have_text(attack)
    assert page.title() != "pwned"
    assert page.locator(".msg-in img").count() == 0
    assert not staff.dialogs
