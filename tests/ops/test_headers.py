"""Security headers on every response: pages, files, API answers, refusals and 404s."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import Settings

# A fixture: this module's ``settings``, with both providers pointed at their fakes.
from tests.support.channels import settings_with_fake_providers  # noqa: F401

REQUESTS = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/try"),
    ("GET", "/try/static/try.js"),
    ("GET", "/try/messages"),
    ("POST", "/webhooks/telegram"),  # refused: no secret token
    ("POST", "/webhooks/whatsapp"),  # refused: no signature
    ("GET", "/console/login"),
    ("GET", "/console/queue"),  # redirected to the login
    ("GET", "/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/no/such/page"),
]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_every_response_carries_the_security_headers(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, follow_redirects=False)

    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp or "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in response.headers  # served over plain http


def test_behind_https_browsers_are_told_to_stay_on_https(
    settings: Settings, engine: Engine
) -> None:
    settings.public_url = "https://infolijn.example.org"
    with TestClient(create_app(settings, engine)) as client:
        for path in ("/try", "/console/login", "/healthz"):
            hsts = client.get(path).headers["strict-transport-security"]
            assert re.fullmatch(r"max-age=\d{8}; includeSubDomains", hsts), hsts


def test_the_console_keeps_its_own_stricter_headers(client: TestClient) -> None:
    response = client.get("/console/login")

    assert response.headers["cache-control"] == "no-store"
    assert response.headers.get_list("content-security-policy") == [
        response.headers["content-security-policy"]
    ]  # one policy, not two merged into something looser


@pytest.mark.parametrize("path", ["/try", "/console/login"])
def test_public_pages_have_no_inline_script(client: TestClient, path: str) -> None:
    page = client.get(path).text

    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None
    assert re.search(r"\son[a-z]+\s*=", page) is None  # no onclick= and the like


def test_the_api_explorer_pages_are_not_served(client: TestClient) -> None:
    # Swagger UI and ReDoc need inline script and a CDN: not under this CSP.
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200
