"""Request bodies are capped for the whole app, before any route reads one.

``/try/messages`` is open to anyone, and FastAPI reads a JSON body whole before the
2,000-character limit of the text applies: a few parallel posts of 150 MB took the
process from 240 MB to 1.9 GB. Now a body over ``HELPLINE_MAX_BODY_BYTES`` gets 413,
at once when its Content-Length says so, or as soon as a chunked one passes it. The
server here is a real uvicorn, so that what the client managed to send is what the
server let in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.config import Settings
from bot.models import Message
from tests.support.live_server import LiveServer

LIMIT = 256 * 1024
TOTAL = 64 * 1024 * 1024  # 256 times the limit
CHUNK = 64 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.max_body_bytes = LIMIT
    return settings


class Sender:
    """A JSON message whose text is ``TOTAL`` bytes long, made as it is sent."""

    def __init__(self) -> None:
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        head, tail = b'{"id": "abcdefgh-1", "text": "', b'"}'
        for chunk in (head, *(b"a" * CHUNK for _ in range(TOTAL // CHUNK)), tail):
            self.sent += len(chunk)
            yield chunk


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        assert client.get("/try").status_code == 200  # the chat cookie
        yield client


def stored_messages(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Message)).one())


def test_a_chunked_body_over_the_limit_is_refused_before_it_is_all_sent(
    browser: httpx.Client, engine: Engine
) -> None:
    sender = Sender()

    response = browser.post(
        "/try/messages", content=iter(sender), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"  # an answer of the app's
    assert sender.sent < TOTAL // 4  # the server stopped reading: the client could not go on
    assert stored_messages(engine) == 0


def test_a_declared_length_over_the_limit_is_refused_unread(
    browser: httpx.Client, engine: Engine
) -> None:
    sender = Sender()
    length = len(b'{"id": "abcdefgh-1", "text": "') + TOTAL + len(b'"}')

    response = browser.post(
        "/try/messages",
        content=iter(sender),
        headers={"Content-Type": "application/json", "Content-Length": str(length)},
    )

    assert response.status_code == 413
    assert sender.sent < TOTAL // 4
    assert stored_messages(engine) == 0


def test_a_message_within_the_limit_still_goes_through(
    browser: httpx.Client, engine: Engine
) -> None:
    said = {"id": "abcdefgh-2", "text": "Hallo, ik heb een vraag over mijn interview"}
    chunks = [json.dumps(said).encode()[:10], json.dumps(said).encode()[10:]]

    declared = browser.post("/try/messages", json=said)
    chunked = browser.post(
        "/try/messages",
        content=iter(chunks),
        headers={"Content-Type": "application/json"},
    )

    assert declared.status_code == 202
    assert chunked.status_code == 202  # the same message again: a replay, stored once
    assert stored_messages(engine) == 1
