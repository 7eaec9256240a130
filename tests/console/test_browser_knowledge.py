"""Editors correct the knowledge base in a real headless Chromium: an editor corrects
the Dari answer of a topic and saves a draft; a second person (the organisation wants
a review) publishes it; the page and the published knowledge base then hold the new text.

``open_as(email, role=..., url=...)`` logs a given person in, on this server or another
(a second instance of the service, for the cross-instance step).
"""

# The browser fixtures are test_browser.py's, imported: the tests' parameters name them.
# ruff: noqa: F811

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from bench import kb_publish
from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.db import make_engine, session_scope
from bot.models import utcnow
from tests.console.knowledge_support import import_knowledge, published_answer
from tests.console.test_browser import browser, server, settings  # noqa: F401 (fixtures)
from tests.support.browser import BROWSER_TESTS
from tests.support.channels import fixture, post_whatsapp
from tests.support.console_browser import Browsing, ensure_staff, log_in_browser
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import WHATSAPP_FROM, FakeTwilioAPI
from tests.support.live_server import LiveServer

pytestmark = BROWSER_TESTS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

TOPIC = "asylum.apply"
NEW_DARI_LINE = "• آدرس تازه: Belliardstraat 68، بروکسل. ساعت ۸ صبح بروید."

OpenAs = Callable[..., Browsing]


@pytest.fixture
def open_as(browser: object, server: LiveServer, engine: Engine) -> Iterator[OpenAs]:
    """Log a person in (made with ``role`` if need be) on ``url`` (this test's server
    unless told otherwise); every window is closed at the end."""
    windows: list[Browsing] = []

    def open_window(email: str, role: str = "staff", url: str | None = None) -> Browsing:
        ensure_staff(engine, email, role)
        browsing = log_in_browser(browser, url or server.url, email)
        windows.append(browsing)
        return browsing

    yield open_window
    for browsing in windows:
        browsing.context.close()


@pytest.fixture
def knowledge(engine: Engine, settings: Settings) -> None:
    import_knowledge(engine, settings)


def test_an_editor_corrects_the_dari_answer_and_a_second_person_publishes_it(
    open_as: OpenAs, knowledge: None, server: LiveServer, engine: Engine, settings: Settings
) -> None:
    settings.kb_review_required = True
    before = published_answer(engine, TOPIC, "fa")
    editor = open_as("eddie@example.org", role="editor")
    page = editor.page
    page.click("nav >> text=Knowledge")
    expect(page.locator(f'#kb-overview tr[data-topic="{TOPIC}"] td[data-lang="fa"]')).to_have_text(
        "Published"
    )
    page.click(f'#kb-overview a >> text="{TOPIC}"')
    dari = page.locator('section.kb-lang[data-lang="fa"]')
    expect(dari).to_have_attribute("dir", "rtl")
    expect(dari).to_have_attribute("lang", "fa")
    answer = dari.locator("textarea[name=answer_fa]")
    corrected = answer.input_value().rstrip("\n") + "\n" + NEW_DARI_LINE
    answer.fill(corrected)
    page.fill("input[name=summary]", "fa: the new address line")
    page.click("button >> text=Save the draft")

    expect(page.locator(".notice")).to_contain_text("The draft is saved")
    expect(page.locator("#kb-draft")).to_contain_text("fa.answer")
    expect(page.locator("#kb-draft")).to_contain_text("A second person reviews and publishes")
    expect(dari.locator(".kb-changed")).to_be_visible()
    assert published_answer(engine, TOPIC, "fa") == before  # a draft is not what the bot says

    reviewer = open_as("erin@example.org", role="editor")
    page2 = reviewer.page
    page2.goto(f"{server.url}/console/knowledge?status=draft&lang=fa")
    page2.click(f'#kb-overview a >> text="{TOPIC}"')
    page2.locator("#kb-draft details.kb-diff summary").click()
    expect(page2.locator("#kb-draft pre.diff")).to_contain_text(NEW_DARI_LINE)
    page2.click("#kb-draft button >> text=Publish")

    expect(page2.locator(".notice")).to_contain_text("Published")
    expect(page2.locator("#kb-draft")).to_have_count(0)
    published_text = page2.locator('section.kb-lang[data-lang="fa"] textarea[name=answer_fa]')
    expect(published_text).to_have_value(corrected + "\n")  # what the bot says now
    expect(page2.locator("legend")).to_contain_text(["The published text"])
    assert NEW_DARI_LINE in published_answer(engine, TOPIC, "fa")
    assert editor.errors == [] and reviewer.errors == []


# --- the same, across two instances on one PostgreSQL database -----------------------

DARI_QUESTION = "برای پناهندگی کجا بروم"  # one of the topic's own Dari examples
_numbers = itertools.count(470_555_001)


@pytest.fixture
def whatsapp_instance(
    engine: Engine,
    database_url: str,
    fake_twilio: FakeTwilioAPI,
    fake_telegram: FakeTelegramAPI,
    tmp_path: Path,
) -> Iterator[tuple[int, Settings]]:
    """A second instance: a ``helpline serve`` process (with its worker) on the same
    database, its own home and model cache, WhatsApp through the fake Twilio. Returns
    its port and the settings a webhook is signed with."""
    if not database_url.startswith("postgresql"):
        pytest.skip("two instances share one database on PostgreSQL")
    env = dict(
        kb_publish.environment(database_url, tmp_path / "second-home", fake_telegram),
        HELPLINE_TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        HELPLINE_TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        HELPLINE_TWILIO_WHATSAPP_FROM=WHATSAPP_FROM,
        HELPLINE_TWILIO_API_URL=fake_twilio.url,
    )
    signing = Settings(
        database_url=database_url,
        secret_key=env["HELPLINE_SECRET_KEY"],
        public_url=env["HELPLINE_PUBLIC_URL"],
        twilio_auth_token=fake_twilio.auth_token,
    )
    with kb_publish.serving(env) as port:
        yield port, signing


def ask_in_dari(port: int, signing: Settings, fake_twilio: FakeTwilioAPI) -> str:
    """A new person who chose Dari and agreed already asks the question on WhatsApp;
    the first text the bot sends them."""
    address = f"whatsapp:+32{next(_numbers)}"
    engine = make_engine(signing.database_url)
    try:
        with session_scope(engine) as session:
            contact = get_or_create_contact(session, signing, "whatsapp", address)
            contact.language, contact.language_chosen, contact.consent_at = "fa", True, utcnow()
            session.add(contact)
    finally:
        engine.dispose()
    form = dict(fixture("whatsapp", "text"), From=address, WaId=address[10:], Body=DARI_QUESTION)
    form["MessageSid"] = form["SmsMessageSid"] = form["SmsSid"] = f"SM{next(_numbers):032d}"
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        assert post_whatsapp(client, signing, form).status_code == 200
    answered = wait_for(lambda: [m.body for m in fake_twilio.sent_to(address) if m.body], 240)
    return answered[0]


def wait_for(found: Callable[[], list[str]], seconds: float) -> list[str]:
    """What ``found`` returns once it is not empty (the bot answers in the background)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := found():
            return result
        time.sleep(0.1)
    raise AssertionError(f"nothing after {seconds} s")


def test_a_person_on_whatsapp_gets_the_corrected_dari_answer_from_another_instance(
    open_as: OpenAs,
    knowledge: None,
    server: LiveServer,
    engine: Engine,
    settings: Settings,
    whatsapp_instance: tuple[int, Settings],
    fake_twilio: FakeTwilioAPI,
) -> None:
    port, signing = whatsapp_instance
    settings.kb_review_required = True
    first_line = published_answer(engine, TOPIC, "fa").splitlines()[0]
    before = ask_in_dari(port, signing, fake_twilio)
    assert first_line in before and NEW_DARI_LINE not in before

    # On this instance (the console's), an editor corrects, a second person publishes.
    page = open_as("eddie@example.org", role="editor").page
    page.goto(f"{server.url}/console/knowledge/topics/{TOPIC}")
    answer = page.locator("textarea[name=answer_fa]")
    answer.fill(answer.input_value().rstrip("\n") + "\n" + NEW_DARI_LINE)
    page.click("button >> text=Save the draft")
    expect(page.locator(".notice")).to_contain_text("The draft is saved")
    page2 = open_as("erin@example.org", role="editor").page
    page2.goto(f"{server.url}/console/knowledge/topics/{TOPIC}")
    page2.click("#kb-draft button >> text=Publish")
    expect(page2.locator(".notice")).to_contain_text("Published")

    # The other instance was not restarted: people asking from now on get the new text
    # once it has retrained (until then, the previous answer, never anything else).
    said: list[str] = []

    def corrected() -> list[str]:
        said.append(ask_in_dari(port, signing, fake_twilio))
        return [text for text in said if NEW_DARI_LINE in text]

    assert wait_for(corrected, 300)
    assert all(first_line in text for text in said)
