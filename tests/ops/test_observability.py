import json
import logging
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot import inbox
from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.messages import Inbound
from bot.models import Conversation, Owner, utcnow
from bot.ops.observability import JsonFormatter, request_id_var


def test_metrics_are_served_in_prometheus_format(client: TestClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'helpline_request_seconds_count{method="GET",route="/healthz",status="200"}' in (
        response.text
    )
    assert "helpline_outbound_messages_total" in response.text


def test_every_response_carries_a_request_id_and_keeps_the_proxys(client: TestClient) -> None:
    assert len(client.get("/healthz").headers["x-request-id"]) == 16
    kept = client.get("/healthz", headers={"X-Request-ID": "from-proxy-42"})
    assert kept.headers["x-request-id"] == "from-proxy-42"


def test_log_lines_are_json_with_the_request_id() -> None:
    token = request_id_var.set("abc123")
    try:
        record = logging.LogRecord("bot", logging.INFO, __file__, 1, "sent", None, None)
        record.channel = "telegram"
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "abc123"
    assert line["channel"] == "telegram"
    assert line["message"] == "sent"


def _sample(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_report_the_queue_as_the_database_has_it(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    now = utcnow()
    with Session(engine) as session:
        contact = get_or_create_contact(session, settings, "telegram", "99")
        for minutes in (3, 10):
            session.add(
                Conversation(
                    contact_id=contact.id,
                    channel="telegram",
                    owner=Owner.queue,
                    queued_at=now - timedelta(minutes=minutes),
                )
            )
        session.add(Conversation(contact_id=contact.id, channel="telegram", owner=Owner.bot))
        session.commit()
    assert _sample(client, "helpline_queue_length") == 2
    assert _sample(client, "helpline_queue_oldest_wait_seconds") >= 600


def test_stored_inbound_messages_are_counted_by_channel(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    before = _sample(client, 'helpline_inbound_messages_total{channel="whatsapp"}')
    inbound = Inbound(
        channel="whatsapp",
        address="whatsapp:+32470000100",
        provider_message_id="SM-metrics-1",
        text="waar kan ik asiel aanvragen",
        button=None,
        media_type=None,
        media_ref=None,
        received_at=utcnow(),
    )
    assert inbox.receive(engine, settings, inbound)
    assert not inbox.receive(engine, settings, inbound)  # a retry is not counted again
    after = _sample(client, 'helpline_inbound_messages_total{channel="whatsapp"}')
    assert after == before + 1
