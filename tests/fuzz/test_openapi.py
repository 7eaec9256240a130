"""schemathesis against the service's own OpenAPI schema (``/openapi.json``).

Every operation the schema documents (health checks, the web chat) is called over
HTTP on a live server with what schemathesis generates from the schema, valid and
not (negative cases: wrong types, numbers past their documented bounds), and every
check it knows is applied: no 5xx, status codes, content types and bodies as
documented. The visitor has written once, so that what is generated reaches the
database. Webhooks and the console are outside the schema (providers and browsers use
them, not API clients); ``tests/fuzz/test_webhooks.py``, ``test_parameters.py`` and the
console tests cover them. ``make fuzz`` runs this with many more examples.
"""

from __future__ import annotations

import secrets

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import given
from schemathesis.generation.modes import GenerationMode
from sqlalchemy import create_engine

from bot.app import create_app
from bot.config import Settings
from tests.fuzz.strategies import FUZZ
from tests.support.live_server import LiveServer


def operations() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) of every operation in the schema (no database needed to list
    them): valid input for each, invalid input for those that take a query or a body."""
    app = create_app(Settings(env="test"), create_engine("sqlite://"))
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            found.append((method.upper(), path, GenerationMode.POSITIVE))
            queried = any(p["in"] == "query" for p in operation.get("parameters", []))
            if queried or "requestBody" in operation:
                found.append((method.upper(), path, GenerationMode.NEGATIVE))
    return sorted(found)


@pytest.mark.parametrize(("method", "path", "mode"), operations())
def test_every_operation_answers_as_the_schema_says(
    app: FastAPI, live_server: LiveServer, method: str, path: str, mode: GenerationMode
) -> None:
    operation = schemathesis.openapi.from_dict(app.openapi())[path][method]
    cookies = {"helpline_try": secrets.token_urlsafe(24)}  # a web chat visitor
    with httpx.Client(base_url=live_server.url, cookies=cookies) as visitor:
        said = visitor.post("/try/messages", json={"id": secrets.token_hex(8), "text": "hello"})
        assert said.status_code == 202

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=live_server.url, cookies=cookies)

    answers_as_documented()
