"""Fuzzing the web chat's endpoints: whatever the page (or a script) posts, no 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import FUZZ, any_text, deeply_nested_json, json_values, tricky_text

said = st.fixed_dictionaries(
    {"id": st.from_regex(r"\A[A-Za-z0-9-]{8,64}\Z") | tricky_text},
    optional={"text": any_text | json_values, "button": tricky_text | json_values},
)


# Taken, or refused: 429 once the chat has sent its messages for the minute (many
# examples post valid messages on one chat; `make fuzz` posts a thousand).
ANSWERS = (202, 400, 413, 422, 429)


# What a browser can send back as a cookie value: printable ASCII but ; , " and \\.
COOKIE_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';,"\\'),
    max_size=80,
)


def opened(client: TestClient) -> TestClient:
    assert client.get("/try").status_code == 200  # the page sets the chat cookie
    return client


@FUZZ
@given(body=said | json_values)
def test_anything_posted_as_json_is_taken_or_refused_never_a_server_error(
    client: TestClient, body: Any
) -> None:
    response = opened(client).post("/try/messages", json=body)

    assert response.status_code in ANSWERS, response.text


@FUZZ
@given(raw=st.binary(max_size=2_000) | any_text.map(lambda t: t.encode("utf-8", "replace")))
def test_malformed_bodies_are_refused(client: TestClient, raw: bytes) -> None:
    response = opened(client).post(
        "/try/messages", content=raw, headers={"content-type": "application/json"}
    )

    assert response.status_code in ANSWERS, response.text


@FUZZ
@given(nested=deeply_nested_json, where=st.sampled_from(["text", "button", "extra"]))
def test_json_nested_deeply_is_refused_never_a_server_error(
    client: TestClient, nested: str, where: str
) -> None:
    raw = '{"id": "abcdefgh12", "text": "hello", "' + where + '": ' + nested + "}"

    response = opened(client).post(
        "/try/messages", content=raw.encode(), headers={"content-type": "application/json"}
    )

    assert response.status_code in ANSWERS, response.text
    if nested.count("[") + nested.count("{") > 31:
        assert response.status_code in (400, 413, 422)


@FUZZ
@given(after=tricky_text, cookie=COOKIE_VALUES)
def test_polling_with_any_query_or_cookie_never_fails(
    client: TestClient, after: str, cookie: str
) -> None:
    client.cookies.clear()
    client.cookies.set("helpline_try", cookie, path="/try")
    response = client.get("/try/messages", params={"after": after})

    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert json.loads(response.text)["messages"] == []


@pytest.mark.parametrize("body", [b"1e999", b"NaN", b'{"id": "abcdefgh12", "text": -Infinity}'])
def test_numbers_json_cannot_carry_are_a_validation_error_not_a_crash(
    client: TestClient, body: bytes
) -> None:
    response = opened(client).post(
        "/try/messages", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert all("input" not in error for error in response.json()["detail"])  # not echoed
