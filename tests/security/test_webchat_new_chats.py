"""A script opening chat after chat on /try: one client address starts only so many.

Each new cookie is a new contact and a new conversation, so without a limit a loop
could fill the database and the staff queue. Past
``HELPLINE_WEBCHAT_NEW_CONTACTS_PER_HOUR`` new chats from one address in an hour, a
new one gets 429 and nothing of it is stored; chats already started go on, and
other addresses are not affected. The address is the one the trusted proxy saw:
an ``X-Forwarded-For`` the client wrote itself counts for nothing.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.app import create_app
from bot.channels.webchat import routes as webchat
from bot.config import Settings
from bot.messages import Inbound
from bot.models import Contact, Message, WebchatStart, utcnow
from bot.privacy.addresses import address_hash
from tests.support.serving import helpline_serve

LIMIT = 3
Serve = Callable[[str | None], str]  # FORWARDED_ALLOW_IPS -> the served URL
DUTCH_REFUSAL = "Er zijn te veel nieuwe gesprekken gestart vanaf je verbinding."


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(update={"webchat_new_contacts_per_hour": LIMIT})


@pytest.fixture
def browser(limited: Settings, engine: Engine) -> Iterator[TestClient]:
    """A visitor's browser, from 203.0.113.7."""
    with TestClient(create_app(limited, engine), client=("203.0.113.7", 40000)) as client:
        yield client


def start_again(client: TestClient | httpx.Client) -> str:
    """A new chat cookie, as "Start again" (or a script) gets one."""
    client.cookies.clear()
    assert client.get("/try").status_code == 200
    token = client.cookies.get("helpline_try")
    assert token
    return token


def say(client: TestClient | httpx.Client, text: str, **headers: str) -> Any:
    return client.post(
        "/try/messages", json={"id": uuid.uuid4().hex, "text": text}, headers=headers
    )


def count(engine: Engine, table: type[Contact] | type[Message] | type[WebchatStart]) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def test_new_chats_from_one_address_past_the_limit_get_429_and_nothing_is_stored(
    browser: TestClient, engine: Engine
) -> None:
    for n in range(LIMIT):
        start_again(browser)
        assert say(browser, f"chat {n}").status_code == 202

    start_again(browser)
    refused = say(browser, "one more", **{"Accept-Language": "nl-BE,nl;q=0.9"})

    assert refused.status_code == 429
    assert DUTCH_REFUSAL in refused.json()["detail"]  # the page's language
    assert 0 < int(refused.headers["retry-after"]) <= 3600  # when the oldest chat ages out
    assert count(engine, Contact) == LIMIT
    assert count(engine, Message) == LIMIT
    assert count(engine, WebchatStart) == LIMIT


def test_a_chat_already_started_goes_on_after_its_address_reached_the_limit(
    browser: TestClient, engine: Engine
) -> None:
    first = start_again(browser)
    assert say(browser, "hello").status_code == 202
    for _ in range(LIMIT - 1):
        start_again(browser)
        assert say(browser, "hello").status_code == 202
    start_again(browser)
    assert say(browser, "hello").status_code == 429

    browser.cookies.clear()
    browser.cookies.set("helpline_try", first, path="/try")
    for text in ("are you there?", "I have a question"):
        assert say(browser, text).status_code == 202

    assert count(engine, Contact) == LIMIT
    shown = [m["text"] for m in browser.get("/try/messages").json()["messages"]]
    assert shown == ["hello", "are you there?", "I have a question"]


def test_another_address_still_starts_chats(
    browser: TestClient, limited: Settings, engine: Engine
) -> None:
    for _ in range(LIMIT):
        start_again(browser)
        assert say(browser, "hello").status_code == 202
    start_again(browser)
    assert say(browser, "hello").status_code == 429

    app = create_app(limited, engine)
    with TestClient(app, client=("198.51.100.20", 40000)) as neighbour:
        start_again(neighbour)
        assert say(neighbour, "hello").status_code == 202
    with TestClient(app, client=("2001:db8:1:2::99", 40000)) as ipv6:
        start_again(ipv6)
        assert say(ipv6, "hello").status_code == 202


def test_an_ipv6_client_counts_by_its_64_so_a_new_address_of_its_own_is_no_way_round(
    limited: Settings, engine: Engine
) -> None:
    app = create_app(limited, engine)
    statuses = []
    for n in range(LIMIT + 1):
        with TestClient(app, client=(f"2001:db8:1:2::{n + 1:x}", 40000)) as client:
            start_again(client)
            statuses.append(say(client, "hello").status_code)

    assert statuses == [202] * LIMIT + [429]


def test_an_hour_later_the_address_starts_chats_again_and_its_old_count_is_gone(
    browser: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(LIMIT):
        start_again(browser)
        assert say(browser, "hello").status_code == 202
    later = utcnow() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(webchat, "utcnow", lambda: later)

    start_again(browser)
    assert say(browser, "hello again").status_code == 202

    with Session(engine) as session:
        assert session.exec(select(WebchatStart.started_at)).all() == [later]  # pruned


def test_parallel_new_chats_from_one_address_admit_exactly_the_limit(
    limited: Settings, engine: Engine
) -> None:
    """Many requests at once (two instances, many threads) cannot all slip under it."""
    attempts = 4 * LIMIT
    client = address_hash(limited, "webchat-client", "203.0.113.50")
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def new_chat(n: int) -> None:
        inbound = Inbound(
            "webchat",
            f"try:{secrets.token_urlsafe(24)}",
            f"try-{n}",
            "hi",
            None,
            None,
            None,
            utcnow(),
        )
        barrier.wait()
        try:
            webchat._receive(engine, limited, inbound, client)
        except webchat._TooManyNewChats:
            outcomes.append("refused")
        else:
            outcomes.append("stored")

    threads = [threading.Thread(target=new_chat, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["refused"] * (attempts - LIMIT) + ["stored"] * LIMIT
    assert count(engine, Contact) == LIMIT


# --- behind the reverse proxy, as deployed ------------------------------------------


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start ``helpline serve`` as deployed; ``trusted`` is its FORWARDED_ALLOW_IPS."""
    numbers = itertools.count()
    with ExitStack() as servers:

        def start(trusted: str | None) -> str:
            database = tmp_path / f"helpline-{next(numbers)}.db"
            return servers.enter_context(
                helpline_serve(
                    database,
                    secret_key="webchat-limit-test-secret",
                    forwarded_allow_ips=trusted,
                    HELPLINE_WEBCHAT_NEW_CONTACTS_PER_HOUR=str(LIMIT),
                )
            )

        yield start


def test_forwarded_for_from_a_peer_that_is_not_the_proxy_is_ignored(serve: Serve) -> None:
    # The proxy is elsewhere: this client talks to the service directly.
    url = serve("192.0.2.1")
    statuses = []
    with httpx.Client(base_url=url) as script:
        for n in range(LIMIT + 2):
            start_again(script)
            statuses.append(say(script, "hi", **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code)

    assert statuses == [202] * LIMIT + [429, 429]


def test_behind_the_proxy_only_the_address_it_appended_counts(serve: Serve) -> None:
    url = serve(None)  # uvicorn's default: the proxy is 127.0.0.1
    statuses = []
    with httpx.Client(base_url=url) as script:
        for n in range(LIMIT + 1):
            start_again(script)
            # what the script wrote, then what the proxy appended: its real address
            forged = {"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.7"}
            statuses.append(say(script, "hi", **forged).status_code)
        start_again(script)
        other = say(script, "hi", **{"X-Forwarded-For": "203.0.113.8"}).status_code

    assert statuses == [202] * LIMIT + [429]
    assert other == 202  # another client behind the same proxy
