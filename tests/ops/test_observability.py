import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot import inbox
from bot.app import create_app
from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.messages import Inbound
from bot.models import Conversation, Owner, utcnow
from bot.ops.observability import JsonFormatter, request_id_var
from tests.support.serving import helpline_serve

TOKEN = "scrape-token-for-the-tests"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.metrics_token = TOKEN  # the monitoring system's token
    return settings


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """Apps outside the test env configure the root logger: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_metrics_are_served_in_prometheus_format(client: TestClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics", headers=SCRAPER)
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
    for line in client.get("/metrics", headers=SCRAPER).text.splitlines():
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


# --- who may read /metrics --------------------------------------------------------------


def served_by(settings: Settings, engine: Engine, env: str, token: str) -> TestClient:
    settings.env = env  # type: ignore[assignment]
    settings.metrics_token = token
    settings.data_key = Fernet.generate_key().decode()
    return TestClient(create_app(settings, engine))


@pytest.mark.usefixtures("keep_logging")
def test_in_development_metrics_are_open_as_before(settings: Settings, engine: Engine) -> None:
    with served_by(settings, engine, "development", "") as client:
        response = client.get("/metrics")

    assert response.status_code == 200
    assert "helpline_queue_length" in response.text


@pytest.mark.usefixtures("keep_logging")
@pytest.mark.parametrize("env", ["production", "test"])
def test_outside_development_metrics_are_closed_without_a_token(
    settings: Settings, engine: Engine, env: str
) -> None:
    with served_by(settings, engine, env, "") as client:
        responses = [
            client.get("/metrics"),
            client.get("/metrics", headers={"Authorization": "Bearer "}),
            client.get("/metrics", headers=SCRAPER),
        ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert not [r for r in responses if "helpline_" in r.text]


@pytest.mark.usefixtures("keep_logging")
@pytest.mark.parametrize("env", ["production", "development"])
def test_with_a_token_metrics_need_it_as_a_bearer_token(
    settings: Settings, engine: Engine, env: str
) -> None:
    with served_by(settings, engine, env, TOKEN) as client:
        refused = [
            client.get("/metrics"),
            client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}),
            client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}),
            client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}),
            client.get(f"/metrics?token={TOKEN}"),
        ]
        allowed = client.get("/metrics", headers=SCRAPER)

    assert [r.status_code for r in refused] == [401] * len(refused)
    assert {r.headers["www-authenticate"] for r in refused} == {"Bearer"}
    assert not [r for r in refused if "helpline_" in r.text]
    assert allowed.status_code == 200
    assert "helpline_queue_length" in allowed.text


def test_helpline_serve_in_production_reads_the_token_from_its_environment(
    tmp_path: Path,
) -> None:
    production = {
        "HELPLINE_ENV": "production",
        "HELPLINE_DATA_KEY": Fernet.generate_key().decode(),
    }
    with helpline_serve(tmp_path / "closed.db", secret_key="s" * 32, **production) as url:
        closed = httpx.get(f"{url}/metrics", headers=SCRAPER)
    token_file = tmp_path / "metrics_token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    with helpline_serve(
        tmp_path / "open.db",
        secret_key="s" * 32,
        HELPLINE_METRICS_TOKEN_FILE=str(token_file),
        **production,
    ) as url:
        refused = httpx.get(f"{url}/metrics")
        scraped = httpx.get(f"{url}/metrics", headers=SCRAPER)

    assert closed.status_code == 404
    assert refused.status_code == 401
    assert scraped.status_code == 200
    assert "helpline_queue_length" in scraped.text
