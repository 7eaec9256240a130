"""Numbers and nesting past what the service can hold are a 4xx, never a 500.

An id past 2**31 - 1 does not fit PostgreSQL's INTEGER, past 2**63 - 1 not SQLite's
(the driver raises), a year past 9999 does not fit a date, and JSON nested thousands
deep exhausts Python's recursion while it is parsed: each of these was a 500. Every
integer a route takes is bounded (``tests/fuzz/test_parameters.py`` tries them all),
and so is the nesting of every JSON body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot.config import Settings
from tests.support.channels import fixture, inbound_messages, post_telegram
from tests.support.factories import add_conversation
from tests.support.staff import Staff, make_staff

MAX_JSON_DEPTH = 32  # what a JSON body may nest (Telegram's updates nest about 8 deep)
# Past PostgreSQL's INTEGER ids, past SQLite's, past any C long; and below the first id.
HUGE = ["2147483648", "9223372036854775808", "99999999999999999999", "-9223372036854775809"]
LARGEST_ID = 2**31 - 1


def nested(depth: int, inside: str = "1") -> str:
    """JSON arrays and objects nested ``depth`` deep."""
    opening = ["[", '{"a":'] * (depth // 2 + 1)
    closing = ["]", "}"] * (depth // 2 + 1)
    return "".join(opening[:depth]) + inside + "".join(reversed(closing[:depth]))


@pytest.fixture
def staff(engine: Engine, app: FastAPI, client: TestClient) -> Iterator[Staff]:
    member = make_staff(engine, app, "staff@example.org").login()
    yield member
    member.client.close()


def test_polling_the_web_chat_past_the_largest_id_is_a_client_error(client: TestClient) -> None:
    client.get("/try")
    said = client.post("/try/messages", json={"id": uuid.uuid4().hex, "text": "hello"})
    assert said.status_code == 202  # the visitor has a chat: the poll reaches the database

    for after in HUGE:
        response = client.get("/try/messages", params={"after": after})
        assert response.status_code == 422, after
    assert client.get("/try/messages", params={"after": LARGEST_ID}).json() == {"messages": []}


@pytest.mark.parametrize(
    "query",
    [
        "year=99999999999999999999",
        "year=-99999999999999999999",
        "month=99999999999999999999-01",
        "month=2024-99999999999999999999",
    ],
)
def test_a_huge_year_or_month_on_the_statistics_pages_is_a_clear_400(
    staff: Staff, query: str
) -> None:
    for path in ("/console/stats", "/console/stats/report.csv", "/console/stats/contacts.csv"):
        page = staff.get(f"{path}?{query}")
        assert page.status_code == 400, (path, query)
        assert "Choose a year, a month, or a first and last day" in page.text


def test_a_conversation_id_past_the_largest_id_is_a_client_error(
    engine: Engine, settings: Settings, staff: Staff
) -> None:
    with Session(engine) as session:
        add_conversation(session, settings, address="4242", text="hallo")
        session.commit()

    for conversation_id in HUGE[:3]:
        assert staff.get(f"/console/conversations/{conversation_id}").status_code == 400
        claim = staff.post(f"/console/conversations/{conversation_id}/claim")
        assert claim.status_code == 400
    assert staff.get(f"/console/conversations/{LARGEST_ID}").status_code == 404


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 200, 5_000])
def test_json_nested_too_deeply_on_the_telegram_webhook_is_a_bad_request(
    client: TestClient, engine: Engine, depth: int
) -> None:
    update = json.dumps(fixture("telegram", "text"))
    body = update[:-1] + ', "extra": ' + nested(depth) + "}"

    response = post_telegram(client, body.encode())

    assert response.status_code == 400
    assert inbound_messages(engine) == []


def test_json_nested_as_deep_as_allowed_is_still_a_message(
    client: TestClient, engine: Engine
) -> None:
    update = json.dumps(fixture("telegram", "text"))
    body = update[:-1] + ', "extra": ' + nested(MAX_JSON_DEPTH - 1) + "}"

    assert post_telegram(client, body.encode()).status_code == 200
    assert len(inbound_messages(engine)) == 1


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 200, 5_000])
def test_json_nested_too_deeply_on_the_web_chat_is_refused(
    client: TestClient, engine: Engine, depth: int
) -> None:
    client.get("/try")
    body: dict[str, Any] = {"id": uuid.uuid4().hex, "text": "hello"}
    raw = json.dumps(body)[:-1] + ', "extra": ' + nested(depth) + "}"

    response = client.post(
        "/try/messages", content=raw.encode(), headers={"content-type": "application/json"}
    )

    assert response.status_code in (400, 422)
    assert inbound_messages(engine) == []
