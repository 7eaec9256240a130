"""One /try chat cannot be a firehose: so many messages a minute, so many in all.

The new-chat limit counts new chats only: one chat used to store 400 messages of 2 KB
in six seconds, and chats started slowly could all be used at once. Past
``HELPLINE_WEBCHAT_MESSAGES_PER_MINUTE`` (default 10) or
``HELPLINE_WEBCHAT_MESSAGES_PER_CHAT`` (default 200), a message gets 429 with
``Retry-After`` and a reason in the page's language, and nothing of it is stored.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.app import create_app
from bot.channels.webchat import routes as webchat
from bot.config import Settings
from bot.messages import Inbound
from bot.models import Message
from bot.privacy.addresses import address_hash
from tests.support.flows import MONDAY_MORNING

DUTCH_TOO_FAST = "Je schrijft sneller dan wij kunnen lezen."
DUTCH_FULL = "Dit gesprek kan geen berichten meer ontvangen."


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = MONDAY_MORNING
        monkeypatch.setattr(webchat, "utcnow", lambda: self.now)

    def tick(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def browser(settings: Settings, engine: Engine) -> TestClient:
    client = TestClient(create_app(settings, engine), headers={"Accept-Language": "nl-BE,nl"})
    assert client.get("/try").status_code == 200
    return client


@pytest.fixture
def visitor(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with browser(settings, engine) as client:
        yield client


def say(client: TestClient, text: str = "x" * 2000) -> Any:
    return client.post("/try/messages", json={"id": uuid.uuid4().hex, "text": text})


def stored(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Message)).one()


def test_the_defaults_are_ten_a_minute_and_two_hundred_a_chat() -> None:
    defaults = Settings(env="test")
    assert (defaults.webchat_messages_per_minute, defaults.webchat_messages_per_chat) == (10, 200)


def test_an_eleventh_message_within_a_minute_is_refused_and_not_stored(
    visitor: TestClient, engine: Engine, clock: Clock
) -> None:
    for _ in range(10):
        clock.tick(1)
        assert say(visitor).status_code == 202

    clock.tick(1)
    refused = say(visitor, "one more")

    assert refused.status_code == 429
    assert DUTCH_TOO_FAST in refused.json()["detail"]  # the page's language
    assert (
        0 < int(refused.headers["retry-after"]) <= 50
    )  # when the first of the ten is a minute old
    assert stored(engine) == 10
    shown = [m["text"] for m in visitor.get("/try/messages").json()["messages"]]
    assert "one more" not in shown

    clock.tick(int(refused.headers["retry-after"]))
    assert say(visitor, "one more").status_code == 202  # a minute on, it goes through
    assert stored(engine) == 11


def test_past_the_messages_a_chat_may_hold_it_takes_no_more_but_a_new_chat_starts(
    settings: Settings, engine: Engine, clock: Clock
) -> None:
    settings.webchat_messages_per_chat = 5
    with browser(settings, engine) as client:
        for _ in range(5):
            clock.tick(30)
            assert say(client).status_code == 202

        for wait in (30, 3600, 86400):
            clock.tick(wait)
            refused = say(client, "still here")
            assert refused.status_code == 429
            assert DUTCH_FULL in refused.json()["detail"]
            assert "Opnieuw beginnen" in refused.json()["detail"]  # the page's button
            assert int(refused.headers["retry-after"]) > 0
        assert stored(engine) == 5

        assert client.post("/try/restart").status_code == 204
        assert say(client, "a new chat").status_code == 202
    assert stored(engine) == 6


def test_parallel_messages_on_one_chat_admit_exactly_the_limit(
    settings: Settings, engine: Engine
) -> None:
    """Requests at once (a script, several instances) cannot all slip under the limit."""
    limit = settings.webchat_messages_per_minute
    address = f"try:{secrets.token_urlsafe(24)}"
    client = address_hash(settings, "webchat-client", "203.0.113.50")
    now = MONDAY_MORNING

    def message(n: int) -> Inbound:
        return Inbound("webchat", address, f"try-{n}", "hi", None, None, None, now)

    assert webchat._receive(engine, settings, message(0), client)  # the chat has started
    attempts = 4 * limit
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def send(n: int) -> None:
        barrier.wait()
        try:
            webchat._receive(engine, settings, message(n), client)
        except webchat._TooManyMessages:
            outcomes.append("refused")
        else:
            outcomes.append("stored")

    threads = [threading.Thread(target=send, args=(n,)) for n in range(1, attempts + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["refused"] * (attempts - limit + 1) + ["stored"] * (limit - 1)
    assert stored(engine) == limit
