"""The /try page and `helpline chat`: the same bot, no credentials needed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot import inbox, outbox
from bot.app import create_app
from bot.channels import build_channels
from bot.cli.chat import chat_loop
from bot.config import Settings
from bot.dialogue.engine import FlowEngine
from bot.models import utcnow
from tests.support.flows import MONDAY_MORNING, SAMPLES


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    """No background worker: the test runs the jobs itself."""
    return settings.model_copy(update={"run_worker": False})


@pytest.fixture
def web(quiet_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(quiet_settings, engine)) as client:
        yield client


async def run_jobs(engine: Engine, settings: Settings, flows: FlowEngine) -> None:
    later = utcnow() + timedelta(seconds=10)
    inbox.process_due(engine, settings, now=later, flows=flows)
    channels = build_channels(settings)
    try:
        while await outbox.send_due(engine, settings, now=later, channels=channels):
            pass  # one message per conversation at a time, in order
    finally:
        await channels.aclose()


def say(web: TestClient, text: str | None = None, button: str | None = None) -> None:
    response = web.post(
        "/try/messages", json={"id": uuid.uuid4().hex, "text": text, "button": button}
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"stored": True}


async def test_a_visitor_chats_with_the_bot_on_the_try_page(
    web: TestClient, engine: Engine, quiet_settings: Settings, flows: FlowEngine
) -> None:
    page = web.get("/try")
    assert page.status_code == 200
    assert "helpline_try" in page.cookies
    assert 'src="/try/static/try.js"' in page.text  # by path: never from the Host header
    assert "<script>" not in page.text  # no inline script: the CSP can forbid it

    say(web, SAMPLES["en"]["question"])
    await run_jobs(engine, quiet_settings, flows)
    shown = web.get("/try/messages").json()["messages"]

    assert [m["side"] for m in shown] == ["me", "bot", "bot"]
    assert shown[0]["text"] == SAMPLES["en"]["question"]
    assert [b["payload"] for b in shown[2]["buttons"]] == ["consent.yes", "consent.no", "language"]

    say(web, button="consent.yes")
    await run_jobs(engine, quiet_settings, flows)
    newer = web.get("/try/messages", params={"after": shown[-1]["id"]}).json()["messages"]

    assert newer[0] == {
        "id": newer[0]["id"],
        "side": "me",
        "text": "Yes, I agree",
        "buttons": [],
    }
    assert [b["payload"] for b in newer[-1]["buttons"]] == ["helped.yes", "helped.no", "human"]


async def test_bot_messages_appear_once_they_are_sent(
    web: TestClient, engine: Engine, quiet_settings: Settings, flows: FlowEngine
) -> None:
    web.get("/try")
    say(web, SAMPLES["nl"]["question"])
    inbox.process_due(engine, quiet_settings, now=utcnow() + timedelta(seconds=10), flows=flows)

    assert [m["side"] for m in web.get("/try/messages").json()["messages"]] == ["me"]


async def test_what_people_write_is_shown_as_text_not_markup(
    web: TestClient, engine: Engine, quiet_settings: Settings, flows: FlowEngine
) -> None:
    web.get("/try")
    say(web, "<script>alert('x')</script><b>hi</b>")

    page = web.get("/try").text

    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;b&gt;hi&lt;/b&gt;" in page
    assert "<b>hi</b>" not in page


async def test_the_page_is_right_to_left_for_a_pashto_speaker(
    web: TestClient, engine: Engine, quiet_settings: Settings, flows: FlowEngine
) -> None:
    web.get("/try")
    say(web, SAMPLES["ps"]["question"])
    await run_jobs(engine, quiet_settings, flows)

    page = web.get("/try").text

    assert '<html lang="ps" dir="rtl">' in page
    assert "د انفولاین چټ وازمایئ" in page  # the page itself speaks Pashto too
    assert 'dir="auto"' in page


def test_the_page_speaks_the_browser_language_to_a_new_visitor(web: TestClient) -> None:
    page = web.get("/try", headers={"Accept-Language": "fr-BE,fr;q=0.9,en;q=0.5"})

    assert '<html lang="fr" dir="ltr">' in page.text
    assert "Essayez le chat de l&#39;Infolijn" in page.text


def test_posting_without_the_chat_cookie_or_anything_to_say_is_refused(web: TestClient) -> None:
    assert web.post("/try/messages", json={"id": "abcdefgh12", "text": "hi"}).status_code == 400
    web.get("/try")
    assert web.post("/try/messages", json={"id": "abcdefgh12", "text": "  "}).status_code == 422
    assert web.post("/try/messages", json={"id": "<bad id>", "text": "hi"}).status_code == 422
    assert (
        web.post("/try/messages", json={"id": "abcdefgh12", "text": "x" * 2001}).status_code == 422
    )


def test_starting_again_makes_a_new_visitor(web: TestClient) -> None:
    web.get("/try")
    before = web.cookies.get("helpline_try")

    assert web.post("/try/restart").status_code == 204
    assert web.cookies.get("helpline_try") not in (None, before)


def test_the_terminal_chat_prints_answers_and_numbered_buttons(
    engine: Engine, settings: Settings, flows: FlowEngine
) -> None:
    lines = iter([SAMPLES["en"]["question"], "1", "2", "3"])
    printed: list[str] = []
    clock = iter(MONDAY_MORNING + timedelta(minutes=n) for n in range(100))

    chat_loop(
        engine,
        settings,
        lambda: next(lines, None),
        printed.append,
        flows=flows,
        clock=lambda: next(clock),
        pause=lambda seconds: None,
    )

    assert "  [1] Yes, I agree" in printed
    assert printed.index("Did this help?") > printed.index("  [1] Yes, I agree")
    sorry = "I am sorry. Perhaps one of these topics helps. You can also talk to a person."
    assert printed.index(sorry) > printed.index("Did this help?")  # "2": no
    assert printed[-2] == "  [3] Talk to a person"
    assert printed[-1].startswith("A staff member will answer you here")  # "3"
