"""A shift in a real headless Chromium: signals in the tab title, a sound and a
notification; the reply box (a canned answer at the cursor, a draft that survives a
reload and a language switch, Ctrl+Enter); pages that fit 800 pixels."""

# The browser fixtures are test_browser.py's, imported: the tests' parameters name them.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.models import Conversation, Direction, Message, Owner, Sender, StaffUser
from tests.console.test_browser import (  # noqa: F401 (fixtures)
    Browsing,
    browser,
    open_console,
    server,
    settings,
)
from tests.support.browser import BROWSER_TESTS
from tests.support.factories import add_conversation
from tests.support.live_server import LiveServer

pytestmark = BROWSER_TESTS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

# Records notifications instead of showing them; permission is asked by the button.
FAKE_NOTIFICATIONS = """
window.shown = [];
window.permissionAsked = false;
class FakeNotification {
  constructor(title, options) { window.shown.push(options.body); }
  addEventListener() {}
  static requestPermission() {
    window.permissionAsked = true;
    FakeNotification.permission = "granted";
    return Promise.resolve("granted");
  }
}
FakeNotification.permission = "default";
window.Notification = FakeNotification;
"""


# For a failure's message: the elements that reach beyond the window.
WIDEST = """[...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth)
  .filter((e) => !e.parentElement.closest('.table-scroll, .chart'))
  .slice(0, 5).map((e) => e.tagName + '.' + e.className + '#' + e.id + ':'
    + Math.round(e.getBoundingClientRect().right))"""


def staff_id(engine: Engine, email: str) -> int:
    with Session(engine) as session:
        user = session.exec(select(StaffUser).where(col(StaffUser.email) == email)).one()
        assert user.id is not None
        return user.id


def new_conversation(engine: Engine, settings: Settings, address: str, **fields: object) -> int:
    with Session(engine) as session:
        conversation = add_conversation(session, settings, address=address, text="Hello?")
        for name, value in fields.items():
            setattr(conversation, name, value)
        session.add(conversation)
        session.commit()
        assert conversation.id is not None
        return conversation.id


def test_an_urgent_arrival_raises_the_title_count_with_a_notification(
    open_console: object, server: LiveServer, engine: Engine, settings: Settings
) -> None:
    staff: Browsing = open_console("alice@example.org")  # type: ignore[operator]
    page = staff.page
    page.context.add_init_script(FAKE_NOTIFICATIONS)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-signal-count", "0")
    expect(page).to_have_title("Queue · helpline")
    # Permission is asked by a button, never on load.
    assert page.evaluate("window.permissionAsked") is False
    page.click("#notify-permission")
    expect(page.locator("#notify-permission")).to_be_hidden()
    assert page.evaluate("window.permissionAsked") is True

    new_conversation(engine, settings, "1", urgent=True, urgent_kind="self_harm")

    expect(page).to_have_title("(1) Queue · helpline")
    expect(page.locator("body")).to_have_attribute("data-alerts", "1")
    assert page.evaluate("window.shown") == ["A new urgent conversation is waiting."]
    expect(page.locator("#waiting tr.urgent td.why")).to_contain_text("urgent: suicide risk")

    # A reply in one of mine, seen from another page (statistics: no live region).
    mine = new_conversation(
        engine, settings, "2", owner=Owner.staff, assignee_id=staff_id(engine, "alice@example.org")
    )
    page.goto(f"{server.url}/console/conversations/{mine}")  # read it
    page.goto(f"{server.url}/console/stats")
    expect(page).to_have_title(re.compile(r"^\(1\) "))
    with Session(engine) as session:
        session.add(
            Message(
                conversation_id=mine,
                channel="telegram",
                direction=Direction.inbound,
                sender=Sender.user,
                text="Are you there?",
            )
        )
        session.commit()
    expect(page).to_have_title(re.compile(r"^\(2\) "))
    expect(page.locator("body")).to_have_attribute("data-alerts", "1")  # on this page
    assert page.evaluate("window.shown") == []  # this page's permission was not asked
    expect(page.locator("body")).to_have_attribute(
        "data-last-alert", "A person replied in one of your conversations."
    )
    assert not [e for e in staff.errors if "Content Security Policy" in e]


def test_a_canned_answer_is_inserted_at_the_cursor_of_a_typed_draft(
    open_console: object, server: LiveServer, engine: Engine, settings: Settings
) -> None:
    staff: Browsing = open_console("alice@example.org")  # type: ignore[operator]
    page = staff.page
    conversation_id = new_conversation(
        engine,
        settings,
        "1",
        language="en",
        owner=Owner.staff,
        assignee_id=staff_id(engine, "alice@example.org"),
    )
    page.goto(f"{server.url}/console/conversations/{conversation_id}")
    reply = page.locator("#reply-text")
    reply.click()
    reply.press_sequentially("Hello.\nBest wishes")
    page.evaluate("document.getElementById('reply-text').setSelectionRange(6, 6)")  # after "."
    canned = page.locator('details.canned[data-topic="asylum.apply"]')
    canned.locator("summary").click()
    text = canned.locator("button.use-canned").get_attribute("data-text")
    assert text
    canned.locator("button.use-canned").click()

    expected = f"Hello.\n{text}\nBest wishes"
    expect(reply).to_have_value(expected)
    assert page.evaluate("document.getElementById('reply-topic').value") == "asylum.apply"
    assert page.evaluate("document.getElementById('reply-text').offsetHeight") > 100  # it grew

    # A team snippet goes where the cursor is now (after the canned answer).
    snippet = page.locator("button.team-snippet").first
    snippet_text = snippet.get_attribute("data-text")
    snippet.click()
    expected = f"Hello.\n{text}\n{snippet_text}\nBest wishes"
    expect(reply).to_have_value(expected)

    # The draft survives a reload and a switch of the console's language.
    page.reload()
    expect(page.locator("#reply-text")).to_have_value(expected)
    page.select_option("select[name=locale]", "nl")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.locator("#reply-text")).to_have_value(expected)

    # Ctrl+Enter sends; the sent draft is gone.
    page.locator("#reply-text").press("Control+Enter")
    expect(page.locator("p.notice")).to_be_visible()
    expect(page.locator("#reply-text")).to_have_value("")
    with Session(engine) as session:
        sent = session.exec(
            select(Message).where(
                col(Message.conversation_id) == conversation_id,
                col(Message.sender) == Sender.staff,
            )
        ).one()
    assert sent.text == expected and sent.topic == "asylum.apply"
    page.reload()
    expect(page.locator("#reply-text")).to_have_value("")


@pytest.mark.parametrize("width", [1280, 800])
def test_the_statistics_and_conversation_pages_fit_the_window(
    open_console: object, server: LiveServer, engine: Engine, settings: Settings, width: int
) -> None:
    staff: Browsing = open_console("alice@example.org")  # type: ignore[operator]
    page = staff.page
    page.set_viewport_size({"width": width, "height": 800})
    fits = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"

    page.goto(f"{server.url}/console/stats?year=2024")
    expect(page.locator("#monthly")).to_be_visible()
    assert page.evaluate(fits), page.evaluate(WIDEST)
    expect(page.locator("header.top nav a", has_text="Queue")).to_be_in_viewport()

    conversation_id = new_conversation(
        engine,
        settings,
        "1",
        language="ps",
        owner=Owner.staff,
        assignee_id=staff_id(engine, "alice@example.org"),
    )
    with Session(engine) as session:
        for n in range(30):  # a long conversation: the page still opens at its top
            session.add(
                Message(
                    conversation_id=conversation_id,
                    channel="telegram",
                    direction=Direction.inbound,
                    sender=Sender.user,
                    text=f"پیغام {n} " + "ډېر اوږد متن " * 20,
                )
            )
        session.commit()
    page.goto(f"{server.url}/console/conversations/{conversation_id}")
    expect(page.locator("#transcript .msg-in").last).to_be_in_viewport()
    assert page.evaluate(fits), page.evaluate(WIDEST)
    assert page.evaluate("window.scrollY") == 0
    expect(page.locator(".conversation-head .actions button.release")).to_be_in_viewport()
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.owner == Owner.staff
