"""Webhooks under attack: each bad request gets its 4xx, nothing is stored, and the
log says why without repeating what the person (or the attacker) wrote.

A replay is different: Twilio signs no timestamp and Telegram sends no nonce, so a
replayed request is byte for byte a provider's retry, which must be acknowledged (a
4xx would make the provider retry for hours). The defence is the message id: a
replay is answered 200, stored once and answered by the bot once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

from bot.app import create_app
from bot.config import Settings
from bot.db import make_engine
from bot.dialogue.engine import FlowEngine
from bot.inbox import process_due
from bot.models import utcnow
from tests.support.channels import (
    WEBHOOK_SECRET,
    fixture,
    inbound_messages,
    post_telegram,
    post_whatsapp,
    twilio_signature,
)

SECRET_TEXT = "my husband hits me, my address is Kerkstraat 12"  # never in a log
PHONE = "whatsapp:+32478123456"


def whatsapp_form(**changes: str) -> dict[str, str]:
    return {**fixture("whatsapp", "text"), "Body": SECRET_TEXT, **changes}


def telegram_update(**message_changes: Any) -> dict[str, Any]:
    update = fixture("telegram", "text")
    update["message"].update({"text": SECRET_TEXT, **message_changes})
    return update


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    caplog.set_level(logging.DEBUG)
    yield lambda: "\n".join(
        record.getMessage() + (record.exc_text or "") for record in caplog.records
    )


def assert_logged_without_the_body(logs: Callable[[], str], reason: str) -> None:
    text = logs()
    assert reason in text
    assert "Kerkstraat" not in text
    assert "hits me" not in text
    assert "478123456" not in text


# --- WhatsApp -----------------------------------------------------------------------


def _unsigned(client: TestClient, settings: Settings) -> Any:
    return post_whatsapp(client, settings, whatsapp_form(), signature="")


def _wrongly_signed(client: TestClient, settings: Settings) -> Any:
    form = whatsapp_form()
    signature = twilio_signature(settings, "/webhooks/whatsapp", dict(form, Body="hello"))
    return post_whatsapp(client, settings, form, signature=signature)


def _signed_for_another_url(client: TestClient, settings: Settings) -> Any:
    form = whatsapp_form()
    signature = twilio_signature(settings, "/webhooks/whatsapp/status", form)
    return post_whatsapp(client, settings, form, signature=signature)


def _oversized(client: TestClient, settings: Settings) -> Any:
    body = SECRET_TEXT + " " + "x" * settings.webhook_max_bytes
    return post_whatsapp(client, settings, whatsapp_form(Body=body))


def _oversized_without_a_length(client: TestClient, settings: Settings) -> Any:
    body = whatsapp_form(Body=SECRET_TEXT + "x" * settings.webhook_max_bytes)

    def chunks() -> Iterator[bytes]:  # streamed: no Content-Length to refuse early
        raw = "&".join(f"{k}={v}" for k, v in body.items()).encode()
        for start in range(0, len(raw), 8192):
            yield raw[start : start + 8192]

    return client.post(
        "/webhooks/whatsapp",
        content=chunks(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "c2lnbmF0dXJl",
        },
    )


def _not_a_form(client: TestClient, settings: Settings) -> Any:
    return client.post(
        "/webhooks/whatsapp",
        json={"Body": SECRET_TEXT, "From": PHONE},
        headers={"X-Twilio-Signature": "c2lnbmF0dXJl"},
    )


def _signed_but_not_a_message(client: TestClient, settings: Settings) -> Any:
    form = {k: v for k, v in whatsapp_form().items() if k != "MessageSid"}
    return post_whatsapp(client, settings, form)


@pytest.mark.parametrize(
    ("send", "status", "reason"),
    [
        (_unsigned, 403, "missing signature"),
        (_wrongly_signed, 403, "bad signature"),
        (_signed_for_another_url, 403, "bad signature"),
        (_oversized, 413, "body too large"),
        (_oversized_without_a_length, 413, "body too large"),
        (_not_a_form, 400, "not a form"),
        (_signed_but_not_a_message, 422, "MessageSid and From are required"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_a_bad_whatsapp_request_is_refused_and_logged_without_its_body(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    logs: Callable[[], str],
    send: Callable[[TestClient, Settings], Any],
    status: int,
    reason: str,
) -> None:
    response = send(client, settings)

    assert response.status_code == status
    assert SECRET_TEXT not in response.text
    assert inbound_messages(engine) == []
    assert_logged_without_the_body(logs, reason)


# --- Telegram -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "body", "status", "reason"),
    [
        (None, telegram_update(), 403, "bad or missing secret token"),
        ("not-the-secret", telegram_update(), 403, "bad or missing secret token"),
        (WEBHOOK_SECRET, telegram_update(text=SECRET_TEXT + "x" * 70_000), 413, "too large"),
        (WEBHOOK_SECRET, b'{"update_id": 1, "message": ' + SECRET_TEXT.encode(), 400, "JSON"),
        (WEBHOOK_SECRET, {"message": {"text": SECRET_TEXT}}, 422, "not a Telegram update"),
        (
            WEBHOOK_SECRET,
            {"update_id": 5, "message": {"text": SECRET_TEXT, "chat": "nonsense"}},
            422,
            "malformed Telegram update",
        ),
    ],
    ids=["no-secret", "wrong-secret", "oversized", "malformed-json", "not-an-update", "bad-field"],
)
def test_a_bad_telegram_update_is_refused_and_logged_without_its_body(
    client: TestClient,
    engine: Engine,
    logs: Callable[[], str],
    secret: str | None,
    body: Any,
    status: int,
    reason: str,
) -> None:
    response = post_telegram(client, body, secret=secret)

    assert response.status_code == status
    assert SECRET_TEXT not in response.text
    assert inbound_messages(engine) == []
    assert_logged_without_the_body(logs, reason)


# --- replays ------------------------------------------------------------------------


def test_a_replayed_whatsapp_message_is_acknowledged_stored_once_and_answered_once(
    client: TestClient, settings: Settings, engine: Engine, flows: FlowEngine
) -> None:
    form = whatsapp_form()
    counted = duplicates_counted("whatsapp")

    later = utcnow() + timedelta(minutes=1)

    statuses = [post_whatsapp(client, settings, form).status_code for _ in range(5)]
    process_due(engine, settings, now=later, flows=flows)
    answer = _outbound_texts(engine)
    statuses.append(post_whatsapp(client, settings, form).status_code)  # after the answer
    process_due(engine, settings, now=later + timedelta(minutes=1), flows=flows)

    assert statuses == [200] * 6
    assert len(inbound_messages(engine)) == 1
    assert answer, "the message was answered"
    assert _outbound_texts(engine) == answer  # and only once
    assert duplicates_counted("whatsapp") - counted == 5  # on /metrics, for monitoring


def duplicates_counted(channel: str) -> float:
    value = REGISTRY.get_sample_value("helpline_webhook_duplicates_total", {"channel": channel})
    return value or 0.0


def test_a_replayed_telegram_update_with_another_text_does_not_overwrite_the_first(
    client: TestClient, engine: Engine
) -> None:
    original = telegram_update(text="first words")
    forged = telegram_update(text="words put in their mouth")

    assert post_telegram(client, original).status_code == 200
    assert post_telegram(client, forged).status_code == 200

    [stored] = inbound_messages(engine)
    assert stored.text == "first words"


def _outbound_texts(engine: Engine) -> list[str]:
    from sqlmodel import Session, select

    from bot.models import Direction, Message

    with Session(engine) as session:
        return [
            m.text or ""
            for m in session.exec(select(Message).where(Message.direction == Direction.outbound))
        ]


# --- the database failing mid-write ---------------------------------------------------


def test_a_database_failure_while_storing_is_a_503_logged_without_the_body(
    settings: Settings, database_url: str, logs: Callable[[], str]
) -> None:
    failing = make_engine(database_url)

    @event.listens_for(failing, "before_cursor_execute")
    def disk_full(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MESSAGE"):
            raise failing.dialect.loaded_dbapi.OperationalError("database or disk is full")

    with TestClient(create_app(settings, failing)) as client:
        whatsapp = post_whatsapp(client, settings, whatsapp_form())
        telegram = post_telegram(client, telegram_update())
    failing.dispose()

    assert (whatsapp.status_code, telegram.status_code) == (503, 503)
    assert whatsapp.headers["retry-after"]
    assert_logged_without_the_body(logs, "not stored")
    assert json.dumps(SECRET_TEXT, ensure_ascii=False)[1:-1] not in logs()
