"""The /try page in a real headless Chromium against a real server and worker: what a
new user sees after `make run`, with the real matcher and no credentials."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import Settings
from bot.i18n import speaker, strip_isolates
from bot.nlu.knowledge import get_knowledge
from tests.support.browser import BROWSER_TESTS, launch_chromium
from tests.support.flows import SAMPLES
from tests.support.live_server import LiveServer

pytestmark = BROWSER_TESTS
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture
def server(settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    settings.debounce_seconds = 0.3
    app: FastAPI = create_app(settings, engine)  # with its worker, as `helpline serve`
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(server.url + "/try")
        yield page
        assert dialogs == []  # nothing a person wrote ran as script
        browser.close()


def test_a_dari_speaker_chats_with_the_bot_on_the_try_page(page: Any, settings: Settings) -> None:
    page.fill("#text", SAMPLES["fa"]["question"])
    page.click("#composer button[type=submit]")

    agree = page.get_by_role("button", name="بلی، موافق هستم")
    expect(agree).to_be_visible(timeout=20_000)
    agree.click()

    first_line = get_knowledge(settings).answer("asylum.apply", "fa").answer.strip().split("\n")[0]
    answer = page.locator(".message.bot p", has_text=first_line[:20])
    expect(answer).to_be_visible(timeout=20_000)
    assert answer.evaluate("element => getComputedStyle(element).direction") == "rtl"
    expect(page.get_by_role("button", name="صحبت با یک شخص")).to_be_visible()


def test_markup_written_on_the_try_page_stays_text(page: Any) -> None:
    written = "<img src=x onerror=alert(1)><b>bold</b>"
    page.fill("#text", written)
    page.click("#composer button[type=submit]")

    expect(page.locator(".message.me p").last).to_have_text(written, timeout=20_000)
    assert page.locator(".message b").count() == 0
    page.reload()
    expect(page.locator(".message.me p").first).to_have_text(written)


def test_a_message_refused_by_the_new_chat_limit_is_said_and_kept_in_the_box(
    settings: Settings, engine: Engine
) -> None:
    settings.webchat_new_contacts_per_hour = 1
    with (
        LiveServer(create_app(settings, engine)) as live,
        sync_api.sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        page = browser.new_page(locale="nl-BE")
        page.goto(live.url + "/try")
        page.fill("#text", "Hallo")
        page.click("#composer button[type=submit]")
        expect(page.locator(".message.me p")).to_have_text("Hallo", timeout=20_000)
        with page.expect_navigation():  # the page reloads with its new chat
            page.click("#restart")  # a new chat: over the limit of one an hour

        page.fill("#text", "Ik heb een vraag")
        page.click("#composer button[type=submit]")

        notice = page.get_by_role("alert")
        expect(notice).to_have_text(
            "Er zijn te veel nieuwe gesprekken gestart vanaf je verbinding. "
            "Probeer het later opnieuw.",
            timeout=20_000,
        )
        expect(page.locator("#text")).to_have_value("Ik heb een vraag")
        assert page.locator(".message.me").count() == 0
        browser.close()


def said(settings: Settings, lang: str, message: str, **values: object) -> str:
    return strip_isolates(speaker(settings.locales_dir, lang).gettext(message, **values))


def send(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.click("#composer button[type=submit]")


def bot_says(page: Any, text: str) -> Any:
    return page.locator(".message.bot p", has_text=text).last


def test_a_person_asked_for_before_the_notice_then_no_on_the_try_page(
    page: Any, settings: Settings
) -> None:
    settings.org_phone = "+32 000 00 00 00 (test)"  # no such number exists

    send(page, "human please")

    staff_after_agreeing = (
        "A staff member can help you here once you have agreed to our privacy notice."
    )
    expect(bot_says(page, staff_after_agreeing)).to_be_visible(timeout=20_000)
    expect(bot_says(page, staff_after_agreeing)).to_contain_text("+32 000 00 00 00 (test)")
    no = page.get_by_role("button", name="No", exact=True).last
    expect(no).to_be_visible(timeout=20_000)
    no.click()

    goodbye = bot_says(page, "That is all right. We do not keep this conversation")
    expect(goodbye).to_be_visible(timeout=20_000)
    expect(goodbye).to_contain_text("+32 000 00 00 00 (test)")
    expect(goodbye).to_contain_text("112")


def test_a_language_named_and_buttons_typed_by_number_on_the_try_page(
    page: Any, settings: Settings
) -> None:
    send(page, SAMPLES["en"]["question"])
    expect(page.get_by_role("button", name="Yes, I agree")).to_be_visible(timeout=20_000)

    send(page, "en français svp")

    expect(
        bot_says(page, said(settings, "fr", "From now on I will write to you in English."))
    ).to_be_visible(timeout=20_000)
    agree = page.get_by_role("button", name=said(settings, "fr", "Yes, I agree"))
    expect(agree).to_be_visible(timeout=20_000)

    send(page, "1")  # the first button, typed

    expect(bot_says(page, said(settings, "fr", "Did this help?"))).to_be_visible(timeout=20_000)
    first_line = get_knowledge(settings).answer("asylum.apply", "fr").answer.strip().split("\n")[0]
    expect(bot_says(page, first_line[:20])).to_be_visible()

    send(page, "2")  # "No"

    sorry = "I am sorry. Perhaps one of these topics helps. You can also talk to a person."
    expect(bot_says(page, said(settings, "fr", sorry))).to_be_visible(timeout=20_000)
    expect(
        page.get_by_role("button", name=said(settings, "fr", "Talk to a person")).last
    ).to_be_visible()
