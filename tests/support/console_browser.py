"""A staff member's own window on the console in headless Chromium, on any server.

``log_in_browser(browser, url, email)`` opens a new browser context (its own cookies),
logs in with the test password and lands on the queue: two people, or one person on
two instances of the service, are two calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.models import StaffUser
from tests.support.factories import PASSWORD, add_staff


@dataclass
class Browsing:
    """One staff member's browser window, with what went wrong on the page."""

    page: Any
    errors: list[str]
    dialogs: list[str]
    context: Any = None


def ensure_staff(engine: Engine, email: str, role: str = "staff") -> None:
    """The account ``email`` with ``role`` (made when missing, its role set when not)."""
    with Session(engine) as session:
        user = session.exec(select(StaffUser).where(col(StaffUser.email) == email)).first()
        if user is None:
            add_staff(session, email, role)
        elif user.role != role:
            user.role = role
            session.add(user)
        session.commit()


def log_in_browser(browser: Any, url: str, email: str) -> Browsing:
    """A new window logged in as ``email`` on the server at ``url``; the caller closes
    ``browsing.context``."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    browsing = Browsing(page, [], [], context)
    page.on("console", lambda m: browsing.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: browsing.errors.append(str(e)))

    def dismiss(dialog: Any) -> None:
        browsing.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(f"{url}/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit] >> text=Log in")
    expect(page).to_have_url(f"{url}/console/queue")
    return browsing
