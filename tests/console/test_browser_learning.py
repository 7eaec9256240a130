"""The bot learns from what it could not answer, in a real headless Chromium.

The service runs with its worker on a real port, Telegram pointed at a fake API. A
person who chose Pashto writes on Telegram (a real webhook request); the real matcher
finds no answer, and the bot says it is not sure and offers a person. The message
appears in an editor's learning inbox; the editor edits it and adds it as an example
of a topic; a second person publishes the draft. Without a restart, the person sends
the same message again and is answered with that topic's Pashto answer.
"""

# The browser fixtures are test_browser.py's, imported: the tests' parameters name them.
# ruff: noqa: F811

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.hours import OpeningHours
from bot.i18n import answer_text, speaker, strip_isolates
from bot.kb import live, store
from bot.models import Message, StaffUser, utcnow
from tests.console.test_browser import (  # noqa: F401 (fixtures)
    CHAT_ID,
    SECRET,
    Browsing,
    browser,
    open_console,
    server,
    telegram_webhook,
)
from tests.support.browser import BROWSER_TESTS
from tests.support.factories import add_staff
from tests.support.fakes.telegram_api import FakeTelegramAPI, SentMessage
from tests.support.live_server import LiveServer

pytestmark = BROWSER_TESTS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

# "I want to exchange my driving licence, what should I do?": no topic answers it.
ASKED = "زه غواړم چې خپل د موټر چلولو جواز بدل کړم، څه وکړم؟"
EDITED = "د موټر چلولو جواز څنګه بدل کړم؟"  # the editor's shorter wording
TOPIC = "civil_status.documents"
TIMEOUT = 180.0  # the bot retrains after the publish, on a busy machine


@pytest.fixture(scope="module")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home for the models the service trains (not the checkout's ``var/cache``)."""
    return tmp_path_factory.mktemp("kb-learn-home")


@pytest.fixture
def settings(
    settings: Settings,
    fake_telegram: FakeTelegramAPI,
    model_home: Path,
    forget_the_published_knowledge_base: None,
) -> Settings:
    """The service with its worker: it answers, sends and follows each publish itself."""
    fake_telegram.configure(settings, webhook_secret=SECRET)
    settings.run_worker = True
    settings.home = model_home  # knowledge/, flows/ and locales/ stay the checkout's
    settings.debounce_seconds = 0
    settings.kb_poll_seconds = 0.2
    settings.provider_timeout_seconds = 2.0
    return settings


def eventually(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def a_person_who_chose_pashto(engine: Engine, settings: Settings) -> None:
    """The Telegram person chose Pashto and agreed earlier: what they ask is answered
    at once, without the first-contact questions."""
    with Session(engine) as session:
        contact = get_or_create_contact(session, settings, "telegram", str(CHAT_ID))
        contact.language, contact.language_chosen, contact.consent_at = "ps", True, utcnow()
        session.add(contact)
        session.commit()


def ask(server: LiveServer, fake_telegram: FakeTelegramAPI, text: str) -> list[SentMessage]:
    """``text`` from the person, through the webhook; the bot's whole reply. Every reply,
    an answer or not, ends with the offer of a person (the "human" button)."""
    before = len(fake_telegram.sent_to(CHAT_ID))
    telegram_webhook(server, text)
    reply: list[SentMessage] = []

    def replied() -> bool:
        reply[:] = fake_telegram.sent_to(CHAT_ID)[before:]
        return any("human" in message.button_payloads for message in reply)

    eventually(replied)
    return reply


def set_role(engine: Engine, email: str, role: str) -> None:
    with Session(engine) as session:
        user = session.exec(select(StaffUser).where(col(StaffUser.email) == email)).one()
        user.role = role
        session.add(user)
        session.commit()


def publish_as_second_person(engine: Engine) -> int:
    """A second person publishes the draft (the store call the knowledge pages make)."""
    with Session(engine) as session:
        reviewer = add_staff(session, "rita@example.org", "editor")
        draft = store.draft_of(session, TOPIC)
        assert draft is not None
        version = store.publish(session, draft.id or 0, reviewer, review_required=True)
        session.commit()
    return version


def abstentions(settings: Settings) -> set[str]:
    """What the bot says in Pashto when it has no answer (flows/abstain.yaml)."""
    pashto = speaker(settings.locales_dir, "ps")
    said = (
        "I am not sure I understand your question. Is it about one of these topics? "
        "You can also talk to a person.",
        "I do not have a good answer to this. A staff member can help you. "
        "You can also ask your question in other words.",
    )
    return {strip_isolates(pashto.gettext(text)) for text in said}


def first_line_of_the_answer(engine: Engine, settings: Settings) -> str:
    """The first line of the topic's published Pashto answer, as the person reads it."""
    with Session(engine) as session:
        published = store.published(session)
    assert published is not None
    answer = published.knowledge().answer(TOPIC, "ps").answer
    filled = answer_text(settings, OpeningHours.from_settings(settings), answer, "ps")
    return filled.strip().splitlines()[0]


def test_an_abstained_pashto_message_is_learned_from_the_inbox(
    engine: Engine,
    settings: Settings,
    fake_telegram: FakeTelegramAPI,
    open_console: object,
    server: LiveServer,
) -> None:
    with Session(engine) as session:
        if store.is_empty(session):  # what the first `helpline db upgrade` does
            store.import_directory(session, settings.knowledge_dir)
            session.commit()
    answer = first_line_of_the_answer(engine, settings)
    a_person_who_chose_pashto(engine, settings)

    first = ask(server, fake_telegram, ASKED)
    # The bot found no answer: it says so in Pashto and offers a person, never the
    # topic's answer.
    assert all(answer not in strip_isolates(message.text) for message in first)
    assert strip_isolates(first[-1].text) in abstentions(settings)
    assert first[-1].button_payloads[-1:] == ["human"]
    with Session(engine) as session:
        stored = session.exec(select(Message).where(col(Message.text) == ASKED)).one()
        assert (stored.topic, stored.language) == (None, "ps")

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

    version = publish_as_second_person(engine)
    # The running service retrains in the background; until then the previous model
    # answers. Once it holds the published version, the person asks again.
    eventually(lambda: live.status(settings) == (version, None))

    again = ask(server, fake_telegram, ASKED)
    assert answer in strip_isolates(again[0].text)
    assert "helped.yes" in again[-1].button_payloads  # "Did this help?"
