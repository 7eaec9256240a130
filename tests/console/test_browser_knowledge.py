"""Editors correct the knowledge base in a real headless Chromium: an editor corrects
the Dari answer of a topic and saves a draft; a second person (the organisation wants
a review) publishes it; the page and the published knowledge base then hold the new text.

``open_as(email, role=..., url=...)`` logs a given person in, on this server or another
(a second instance of the service, for the cross-instance step).
"""

# The browser fixtures are test_browser.py's, imported: the tests' parameters name them.
# ruff: noqa: F811

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from tests.console.knowledge_support import import_knowledge, published_answer
from tests.console.test_browser import browser, server, settings  # noqa: F401 (fixtures)
from tests.support.browser import BROWSER_TESTS
from tests.support.console_browser import Browsing, ensure_staff, log_in_browser
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
