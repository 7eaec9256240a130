"""The bot learns from what it could not answer, in a real headless Chromium.

A person writes in Pashto on Telegram (a real webhook request) and the real matcher
finds no answer; the message appears in an editor's learning inbox; the editor
edits it and adds it as an example of a topic; a second person publishes the draft;
then the matcher built from the published knowledge base answers the message with
that topic.
"""

# The browser fixtures are test_browser.py's, imported: the tests' parameters name them.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot import inbox
from bot.config import Settings
from bot.dialogue.engine import get_flow_engine
from bot.kb import store
from bot.models import Message, StaffUser, utcnow
from bot.nlu.matcher import Matcher
from tests.console.test_browser import (  # noqa: F401 (fixtures)
    Browsing,
    browser,
    open_console,
    server,
    settings,
    telegram_webhook,
)
from tests.support.browser import BROWSER_TESTS
from tests.support.factories import add_staff
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.live_server import LiveServer

pytestmark = BROWSER_TESTS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

# "I want to exchange my driving licence, what should I do?": no topic answers it.
ASKED = "زه غواړم چې خپل د موټر چلولو جواز بدل کړم، څه وکړم؟"
EDITED = "د موټر چلولو جواز څنګه بدل کړم؟"  # the editor's shorter wording
TOPIC = "civil_status.documents"


def run_inbox_with_the_real_matcher(engine: Engine, settings: Settings) -> None:
    later = utcnow() + timedelta(seconds=settings.debounce_seconds + 1)
    inbox.process_due(engine, settings, now=later, flows=get_flow_engine(settings))


def set_role(engine: Engine, email: str, role: str) -> None:
    with Session(engine) as session:
        user = session.exec(select(StaffUser).where(col(StaffUser.email) == email)).one()
        user.role = role
        session.add(user)
        session.commit()


def publish_as_second_person(engine: Engine, settings: Settings) -> None:
    """A second person publishes the draft. (The publish page is the knowledge pages'
    own, on another branch: this goes through the same store call they make.)"""
    with Session(engine) as session:
        reviewer = add_staff(session, "rita@example.org", "editor")
        draft = store.draft_of(session, TOPIC)
        assert draft is not None
        store.publish(session, draft.id or 0, reviewer, review_required=True)
        session.commit()


def answered_topic(engine: Engine, text: str) -> str | None:
    """What the bot answers ``text`` with once the knowledge base is published: here
    the matcher trained on the published knowledge base. (Where the running bot
    reloads a publish live, send ``text`` through the channel instead and check the
    topic's answer comes back.)"""
    with Session(engine) as session:
        published = store.published(session)
    assert published is not None
    return Matcher.train(published.knowledge()).match(text).topic


def test_an_abstained_pashto_message_is_learned_from_the_inbox(
    open_console: object,
    server: LiveServer,
    engine: Engine,
    settings: Settings,
    fake_telegram: FakeTelegramAPI,
) -> None:
    with Session(engine) as session:
        if store.is_empty(session):  # what the first `helpline db upgrade` does
            store.import_directory(session, settings.knowledge_dir)
            session.commit()
    telegram_webhook(server, ASKED)
    run_inbox_with_the_real_matcher(engine, settings)
    with Session(engine) as session:
        stored = session.exec(select(Message).where(col(Message.text) == ASKED)).one()
        assert (stored.topic, stored.language) == (None, "ps")  # the bot found no answer

    editor: Browsing = open_console("edith@example.org")  # type: ignore[operator]
    set_role(engine, "edith@example.org", "editor")
    page = editor.page
    page.goto(f"{server.url}/console/knowledge/inbox")  # type: ignore[attr-defined]
    group = page.locator("section.kb-group[data-language=ps]")  # type: ignore[attr-defined]
    expect(group).to_have_count(1)
    expect(group.locator(".kb-text")).to_have_text(ASKED)
    expect(group.locator("h3")).to_contain_text("Pashto")
    text = group.locator("textarea[name=text]")
    expect(text).to_have_value(ASKED)

    text.fill(EDITED)
    group.locator("select[name=topic]").select_option(TOPIC)
    group.locator("button[value=add]").click()

    expect(page.locator(".notice")).to_contain_text("Added as an example")  # type: ignore[attr-defined]
    expect(page.locator("section.kb-group")).to_have_count(0)  # type: ignore[attr-defined]
    with Session(engine) as session:
        draft = store.draft_of(session, TOPIC)
        assert draft is not None and EDITED in draft.content and ASKED not in draft.content
    assert editor.errors == []

    publish_as_second_person(engine, settings)

    assert answered_topic(engine, ASKED) == TOPIC
