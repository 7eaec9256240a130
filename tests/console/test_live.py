"""Against a real server: simultaneous claims and the live queue stream."""

import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session

from bot.config import Settings
from bot.models import Conversation
from tests.support.factories import PASSWORD, add_conversation, add_staff
from tests.support.live_server import LiveServer
from tests.support.staff import CSRF


def logged_in(server: LiveServer, email: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=10, headers={"accept": "text/html"})
    token = CSRF.search(client.get("/console/login").text)
    assert token
    response = client.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert response.status_code == 303, response.text
    return client


def form_token(client: httpx.Client) -> str:
    found = CSRF.search(client.get("/console/queue").text)
    assert found
    return found.group(1)


@pytest.fixture
def staff_clients(engine: Engine, live_server: LiveServer) -> Iterator[list[httpx.Client]]:
    emails = [f"staff{n}@example.org" for n in range(3)]
    with Session(engine) as session:
        for email in emails:
            add_staff(session, email)
        session.commit()
    clients = [logged_in(live_server, email) for email in emails]
    yield clients
    for client in clients:
        client.close()


def claim_at_once(
    clients: list[httpx.Client], tokens: list[str], conversation_id: int
) -> list[int]:
    """Every client posts "claim" for the same conversation at the same moment."""
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def claim(client: httpx.Client, token: str) -> None:
        barrier.wait()
        response = client.post(
            f"/console/conversations/{conversation_id}/claim",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=claim, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_staff_claiming_the_same_conversation_at_once_gives_it_to_exactly_one(
    engine: Engine, settings: Settings, staff_clients: list[httpx.Client]
) -> None:
    with Session(engine) as session:
        ids = [add_conversation(session, settings, address=str(n)).id or 0 for n in range(5)]
        session.commit()
    tokens = [form_token(client) for client in staff_clients]
    for conversation_id in ids:
        statuses = claim_at_once(staff_clients, tokens, conversation_id)
        assert sorted(statuses) == [303] + [409] * (len(staff_clients) - 1)
        with Session(engine) as session:
            conversation = session.get(Conversation, conversation_id)
            assert conversation is not None and conversation.owner == "staff"


def read_events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    event, data = "", []
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data.append(line.removeprefix("data: "))
        elif line == "" and event:
            yield event, "\n".join(data)
            event, data = "", []


def test_the_queue_stream_shows_a_new_conversation_without_reloading(
    engine: Engine, settings: Settings, app: FastAPI, staff_clients: list[httpx.Client]
) -> None:
    app.state.console_poll_seconds = 0.1
    with staff_clients[0].stream("GET", "/console/queue/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
        first_event, first = next(events)
        assert first_event == "queue"
        assert "Nobody is waiting" in first
        with Session(engine) as session:
            add_conversation(session, settings, address="7", language="ps", text="زه مرسته غواړم")
            session.commit()
        # (The same stream also carries the staff member's signals.)
        _, second = next(event for event in events if event[0] == "queue")
    assert "زه مرسته غواړم" in second
    assert "Pashto" in second
