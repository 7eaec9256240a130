import json
import logging

from fastapi.testclient import TestClient

from bot.observability import JsonFormatter, request_id_var


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
