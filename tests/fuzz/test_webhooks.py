"""Fuzzing the webhooks with valid signatures, so that the input reaches the parsers.

Whatever arrives, the answer is a 2xx or a clear 4xx: never a 5xx (the provider
would retry it forever), never a crash; and the service still stores a normal
message afterwards.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from bot.config import Settings
from tests.fuzz.strategies import (
    FUZZ,
    WEBHOOK_SECRET,
    any_text,
    deeply_nested_json,
    json_values,
    tricky_text,
)
from tests.support.channels import fixture, inbound_messages, post_telegram, twilio_signature

TWILIO_FIELDS = [
    "MessageSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "MediaUrl0",
    "MediaContentType0",
    "ButtonPayload",
    "Latitude",
    "Longitude",
    "Address",
    "ProfileName",
    "WaId",
]
ACCEPTED = {200}
REFUSED = {400, 403, 413, 422}


def signed_post(client: TestClient, settings: Settings, body: bytes) -> Any:
    """POST a form body as Twilio would, signed over what the server will parse."""
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        form = {}
    return client.post(
        "/webhooks/whatsapp",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(settings, "/webhooks/whatsapp", form),
        },
    )


def still_works(client: TestClient, settings: Settings, engine: Engine) -> None:
    before = len(inbound_messages(engine))
    form = dict(fixture("whatsapp", "text"), MessageSid="SMafterthefuzz")
    assert signed_post(client, settings, urlencode(form).encode()).status_code == 200
    assert len(inbound_messages(engine)) == before + 1


whatsapp_forms = st.dictionaries(
    st.sampled_from(TWILIO_FIELDS) | tricky_text, any_text, max_size=len(TWILIO_FIELDS)
).map(
    # most forms look like a message, so the fuzz gets past "MessageSid is required"
    lambda form: {"MessageSid": "SM" + str(abs(hash(str(form)))), "From": "whatsapp:+32470", **form}
)


@FUZZ
@given(form=whatsapp_forms)
def test_any_signed_whatsapp_form_is_stored_or_refused_never_a_server_error(
    client: TestClient, settings: Settings, engine: Engine, form: dict[str, str]
) -> None:
    response = signed_post(client, settings, urlencode(form).encode())

    assert response.status_code in ACCEPTED | REFUSED, response.text
    if response.status_code == 200:
        assert form["From"].startswith("whatsapp:")


@FUZZ
@given(body=st.binary(max_size=2_000) | any_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_whatsapp_body_is_answered_with_a_client_error_at_worst(
    client: TestClient, settings: Settings, engine: Engine, body: bytes
) -> None:
    response = signed_post(client, settings, body)

    assert response.status_code in ACCEPTED | REFUSED, response.text


def test_whatsapp_survives_the_fuzz(client: TestClient, settings: Settings, engine: Engine) -> None:
    for body in (b"%ff%fe=%00", b"=" * 50_000, "Body=\u202e\x00".encode(), b"&&&&"):
        assert signed_post(client, settings, body).status_code < 500
    still_works(client, settings, engine)


def update_with(message: dict[str, Any], update_id: int) -> dict[str, Any]:
    return {"update_id": update_id, "message": message}


telegram_messages = st.fixed_dictionaries(
    {
        "message_id": st.integers() | tricky_text,
        "date": st.integers(min_value=-(2**40), max_value=2**40),
        "chat": st.fixed_dictionaries(
            {"id": st.integers(), "type": st.sampled_from(["private", "group"]) | tricky_text}
        )
        | json_values,
    },
    optional={
        "text": any_text | json_values,
        "caption": any_text,
        "from": json_values,
        "voice": json_values,
        "photo": json_values,
        "location": json_values,
        "entities": json_values,
        "reply_markup": json_values,
    },
)
telegram_updates = (
    st.builds(update_with, telegram_messages, st.integers(min_value=1, max_value=2**53))
    | st.dictionaries(tricky_text, json_values, max_size=5)
    | json_values
)


@FUZZ
@given(update=telegram_updates)
def test_any_telegram_update_with_the_secret_is_stored_or_refused_never_a_server_error(
    client: TestClient, update: Any
) -> None:
    response = post_telegram(client, update, secret=WEBHOOK_SECRET)

    assert response.status_code in ACCEPTED | REFUSED, response.text


@FUZZ
@given(
    body=st.binary(max_size=2_000)
    | st.builds(
        lambda text: ('{"update_id": 7, "message": {"text": "' + text + '"}').encode(
            "utf-8", "surrogatepass"
        ),
        any_text,
    )
)
def test_any_telegram_body_is_answered_with_a_client_error_at_worst(
    client: TestClient, body: bytes
) -> None:
    response = post_telegram(client, body, secret=WEBHOOK_SECRET)

    assert response.status_code in ACCEPTED | REFUSED, response.text


@FUZZ
@given(nested=deeply_nested_json, where=st.sampled_from(["update", "message", "text"]))
def test_json_nested_deeper_than_any_update_is_refused_never_a_server_error(
    client: TestClient, engine: Engine, nested: str, where: str
) -> None:
    update = json.dumps(fixture("telegram", "text"))
    if where == "update":
        body = update[:-1] + ', "extra": ' + nested + "}"
    elif where == "message":
        body = update.replace('"message": {', '"message": {"extra": ' + nested + ", ", 1)
    else:
        body = update.replace(json.dumps(fixture("telegram", "text")["message"]["text"]), nested)
    depth = nested.count("[") + nested.count("{") + (1 if where == "update" else 2)

    response = post_telegram(client, body.encode(), secret=WEBHOOK_SECRET)

    assert response.status_code in ACCEPTED | REFUSED, response.text
    if depth > 32:  # no update nests that deep
        assert response.status_code in (400, 413)


def test_what_no_database_can_hold_is_stored_cleaned_not_refused(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    update = fixture("telegram", "text")
    original = json.dumps(update["message"]["text"])
    for update_id, escaped in [(1, "\\ud800 lone"), (2, "nul \\u0000 byte")]:
        body = json.dumps(dict(update, update_id=update_id)).replace(original, f'"{escaped}"')
        assert post_telegram(client, body.encode(), secret=WEBHOOK_SECRET).status_code == 200
    long_sid = "SM" + "7" * 1000
    form = dict(
        fixture("whatsapp", "image"),
        MessageSid=long_sid,
        Body="a\x00b",
        MediaContentType0="image/" + "x" * 200,
        ButtonPayload="p" * 300,
    )
    for _ in range(2):  # a replay of the over-long id is still recognised
        assert signed_post(client, settings, urlencode(form).encode()).status_code == 200

    stored = inbound_messages(engine)
    assert [m.text for m in stored] == ["? lone", "nul  byte", "ab"]
    assert len(stored[2].media_type or "") == 64 and len(stored[2].button or "") == 128
    still_works(client, settings, engine)
