"""A phone call logged in a real headless Chromium, then found on the statistics page.

A Content-Security-Policy violation, a script error or a failed request (a broken
stylesheet link) fails the test: the pages must work under the console's strict CSP.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.models import ContactRecord
from tests.support.browser import BROWSER_TESTS, launch_chromium
from tests.support.factories import PASSWORD, add_staff
from tests.support.live_server import LiveServer

pytestmark = BROWSER_TESTS
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture
def page(live_server: LiveServer, engine: Engine) -> Iterator[tuple[object, list[str]]]:
    with Session(engine) as session:
        add_staff(session, "alice@example.org")
        session.commit()
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(locale="en-GB").new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if "Security Policy" in m.text else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
        page.goto(f"{live_server.url}/console/login")
        page.fill("input[name=email]", "alice@example.org")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        expect(page).to_have_url(f"{live_server.url}/console/queue")
        yield page, errors
        browser.close()


def test_a_phone_call_is_logged_in_a_few_clicks_and_counted(
    page: tuple[object, list[str]], live_server: LiveServer, engine: Engine
) -> None:
    browser_page, errors = page
    p: sync_api.Page = browser_page  # type: ignore[assignment]

    p.goto(f"{live_server.url}/console/stats")
    p.click("text=Log a call, e-mail or Q&A session")
    p.select_option("select[name=language]", "uk")
    p.fill("input[name=minutes]", "6")
    p.click("button:text('Save')")

    expect(p.locator("p.notice")).to_have_text("Saved.")
    expect(p.locator("select[name=language]")).to_have_value("uk")  # ready for the next call
    expect(p.locator("#recent tr.entry")).to_have_count(1)
    with Session(engine) as session:
        record = session.exec(select(ContactRecord)).one()
    assert (record.channel, record.language, record.minutes) == ("phone", "uk", 6)

    p.click("text=Statistics")
    expect(p.locator("#staff-phone .big")).to_have_text("1")
    expect(p.locator("svg.bars rect")).not_to_have_count(0)
    assert errors == []
