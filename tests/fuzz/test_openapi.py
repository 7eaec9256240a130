"""schemathesis against the service's own OpenAPI schema (``/openapi.json``).

Every operation the schema documents (health checks, the web chat) is called over
HTTP on a live server with what schemathesis generates from the schema, valid and
not, and every check it knows is applied: no 5xx, status codes, content types and
bodies as documented. Webhooks and the console are outside the schema (providers
and browsers use them, not API clients); ``tests/fuzz/test_webhooks.py`` and the
console tests cover them. ``make fuzz`` runs this with many more examples.
"""

from __future__ import annotations

import secrets

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import given
from sqlalchemy import create_engine

from bot.app import create_app
from bot.config import Settings
from tests.fuzz.strategies import FUZZ
from tests.support.live_server import LiveServer


def operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the schema (no database needed to list them)."""
    app = create_app(Settings(env="test"), create_engine("sqlite://"))
    paths = app.openapi()["paths"]
    return sorted((method.upper(), path) for path, item in paths.items() for method in item)


@pytest.mark.parametrize(("method", "path"), operations())
def test_every_operation_answers_as_the_schema_says(
    app: FastAPI, live_server: LiveServer, method: str, path: str
) -> None:
    operation = schemathesis.openapi.from_dict(app.openapi())[path][method]
    cookies = {"helpline_try": secrets.token_urlsafe(24)}  # a web chat visitor

    @FUZZ
    @given(case=operation.as_strategy())
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=live_server.url, cookies=cookies)

    answers_as_documented()
