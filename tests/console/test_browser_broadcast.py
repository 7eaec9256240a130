"""A broadcast composed in a real headless Chromium: the live count, sending, the report."""

# The browser fixtures are test_browser.py's, imported: the tests' parameters name them.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.models import StaffUser, utcnow
from tests.broadcasts.people import add_people, run_broadcast_job
from tests.console.test_browser import (  # noqa: F401 (fixtures)
    Browsing,
    browser,
    open_console,
    run_outbox,
    server,
    settings,
)
from tests.support.browser import BROWSER_TESTS
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.live_server import LiveServer

pytestmark = BROWSER_TESTS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def allow_broadcasts(engine: Engine, email: str) -> None:
    with Session(engine) as session:
        user = session.exec(select(StaffUser).where(col(StaffUser.email) == email)).one()
        user.can_broadcast = True
        session.add(user)
        session.commit()


def send_everything(engine: Engine, settings: Settings) -> None:
    """The broadcast job, then the outbox (its own event loop: the browser owns this one)."""
    run_broadcast_job(engine, settings, utcnow())
    run_outbox(engine, settings)


def test_compose_see_the_count_send_and_see_the_report(
    open_console: object,
    server: LiveServer,
    engine: Engine,
    settings: Settings,
    fake_telegram: FakeTelegramAPI,
) -> None:
    add_people(engine, settings, 12, channel="telegram")
    add_people(engine, settings, 6, channel="whatsapp", start=100)
    browsing: Browsing = open_console("caro@example.org")  # type: ignore[operator]
    allow_broadcasts(engine, "caro@example.org")
    page = browsing.page

    page.goto(f"{server.url}/console/broadcasts")  # type: ignore[attr-defined]
    expect(page.locator("#count-targeted")).to_have_text("0")  # no text written yet
    page.fill("textarea[name=text_nl]", "Het aanmeldcentrum is verhuisd.")  # type: ignore[attr-defined]
    page.fill("textarea[name=text_ps]", "د نوم لیکنې مرکز کډ شوی.")  # type: ignore[attr-defined]
    expect(page.locator("#count-targeted")).to_have_text("6")  # 3 Dutch, 3 Pashto
    expect(page.locator("#count-missing")).to_have_text("12")
    expect(page.locator("textarea[name=text_ps]")).to_have_attribute("dir", "rtl")
    page.check("input[name=channel][value=telegram]")  # type: ignore[attr-defined]
    expect(page.locator("#count-targeted")).to_have_text("4")
    page.click("button[type=submit] >> text=Send the broadcast")  # type: ignore[attr-defined]

    expect(page).to_have_url(f"{server.url}/console/broadcasts/1")
    send_everything(engine, settings)
    page.reload()  # type: ignore[attr-defined]
    total = page.locator("#broadcast-report tr[data-language=all]")  # type: ignore[attr-defined]
    expect(total.locator("td.targeted")).to_have_text("4")
    expect(total.locator("td.sent")).to_have_text("4")
    assert len(fake_telegram.sent) == 4
    assert browsing.errors == []
