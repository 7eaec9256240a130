"""POST /webhooks/whatsapp and /webhooks/whatsapp/status: Twilio's signed form posts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from bot.app import create_app
from bot.config import Settings
from bot.db import make_engine, session_scope
from bot.models import Contact, Message
from bot.privacy.addresses import address_hash
from tests.support.channels import (
    fixture,
    inbound_messages,
    new_conversation,
    post_whatsapp,
    twilio_signature,
)


def test_a_signed_text_message_is_stored_and_acknowledged_with_empty_twiml(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    form = fixture("whatsapp", "text")

    response = post_whatsapp(client, settings, form)

    assert response.status_code == 200
    assert "<Response></Response>" in response.text
    [stored] = inbound_messages(engine)
    assert stored.channel == "whatsapp"
    assert stored.text == form["Body"]
    assert stored.provider_message_id == form["MessageSid"]
    assert stored.media_type is None


def test_the_sender_is_found_again_by_keyed_hash_and_not_stored_in_clear(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    post_whatsapp(client, settings, fixture("whatsapp", "text"))

    with session_scope(engine) as session:
        [contact] = session.exec(select(Contact)).all()
    assert contact.address_hash == address_hash(settings, "whatsapp", "whatsapp:+32478123456")
    assert "32478123456" not in contact.address_enc


def test_unsigned_twilio_request_is_rejected(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    response = post_whatsapp(client, settings, fixture("whatsapp", "text"), signature="")

    assert response.status_code == 403
    assert inbound_messages(engine) == []


def test_wrongly_signed_twilio_request_is_rejected(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    form = fixture("whatsapp", "text")
    forged = dict(form, Body="a different text than the one that was signed")

    response = post_whatsapp(
        client, settings, forged, signature=twilio_signature(settings, "/webhooks/whatsapp", form)
    )

    assert response.status_code == 403
    assert inbound_messages(engine) == []


def test_a_signature_for_another_url_is_rejected(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    form = fixture("whatsapp", "text")
    signature = twilio_signature(settings, "/webhooks/whatsapp/status", form)

    response = post_whatsapp(client, settings, form, signature=signature)

    assert response.status_code == 403


def test_a_signature_made_with_another_auth_token_is_rejected(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    form = fixture("whatsapp", "text")
    other = settings.model_copy(update={"twilio_auth_token": "someone-elses-token"})

    response = post_whatsapp(
        client, settings, form, signature=twilio_signature(other, "/webhooks/whatsapp", form)
    )

    assert response.status_code == 403


def test_a_replayed_message_is_acknowledged_but_stored_once(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    form = fixture("whatsapp", "text")

    first = post_whatsapp(client, settings, form)
    replay = post_whatsapp(client, settings, form)

    assert (first.status_code, replay.status_code) == (200, 200)
    assert len(inbound_messages(engine)) == 1


def test_an_oversized_body_is_refused_before_it_is_read(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    form = dict(fixture("whatsapp", "text"), Body="x" * (settings.webhook_max_bytes + 1))

    response = post_whatsapp(client, settings, form)

    assert response.status_code == 413
    assert inbound_messages(engine) == []


def test_a_body_that_is_not_a_form_is_a_bad_request(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    response = client.post(
        "/webhooks/whatsapp",
        content=b"\xff\xfe not utf-8",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "c2lnbmF0dXJl",
        },
    )
    json_body = client.post(
        "/webhooks/whatsapp",
        json={"Body": "hi"},
        headers={"X-Twilio-Signature": "c2lnbmF0dXJl"},
    )

    assert response.status_code == 400
    assert json_body.status_code == 400
    assert inbound_messages(engine) == []


def test_a_signed_form_without_a_message_sid_is_unprocessable(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    form = {k: v for k, v in fixture("whatsapp", "text").items() if k != "MessageSid"}

    response = post_whatsapp(client, settings, form)

    assert response.status_code == 422
    assert inbound_messages(engine) == []


@pytest.mark.parametrize(("name", "media_type"), [("voice", "audio/ogg"), ("image", "image/jpeg")])
def test_media_is_stored_as_a_reference_for_staff(
    client: TestClient, settings: Settings, engine: Engine, name: str, media_type: str
) -> None:
    form = fixture("whatsapp", name)

    assert post_whatsapp(client, settings, form).status_code == 200

    [stored] = inbound_messages(engine)
    assert stored.media_type == media_type
    assert stored.media_ref == form["MediaUrl0"]
    assert stored.text == (form["Body"] or None)


def test_a_shared_location_is_kept_as_a_location_without_coordinates_or_address(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    form = fixture("whatsapp", "location")

    assert post_whatsapp(client, settings, form).status_code == 200

    [stored] = inbound_messages(engine)
    assert stored.media_type == "location"
    assert stored.media_ref is None
    stored_values = " ".join(str(v) for v in stored.model_dump().values())
    for secret in (form["Latitude"], form["Longitude"], form["Address"], form["Label"]):
        assert secret not in stored_values


def test_a_pressed_template_button_is_stored_with_its_payload(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    assert post_whatsapp(client, settings, fixture("whatsapp", "button_reply")).status_code == 200

    [stored] = inbound_messages(engine)
    assert stored.button == "reopen:yes"


@pytest.fixture
def unreachable_app(settings: Settings) -> Iterator[TestClient]:
    """The app with its database gone (nothing listens on port 1)."""
    engine = make_engine("postgresql://helpline@127.0.0.1:1/helpline")
    with TestClient(create_app(settings, engine)) as client:
        yield client


def test_with_the_database_down_the_webhook_answers_503_so_twilio_retries(
    unreachable_app: TestClient, client: TestClient, settings: Settings, engine: Engine
) -> None:
    form = fixture("whatsapp", "text")

    down = post_whatsapp(unreachable_app, settings, form)
    retried = post_whatsapp(client, settings, form)

    assert down.status_code == 503
    assert retried.status_code == 200
    assert len(inbound_messages(engine)) == 1


# --- status callbacks -----------------------------------------------------------------


def _sent_message(engine: Engine, settings: Settings, sid: str, status: str = "sent") -> int:
    conversation = new_conversation(engine, settings, "whatsapp", "whatsapp:+32478123456")
    with session_scope(engine) as session:
        message = Message(
            conversation_id=conversation.id or 0,
            channel="whatsapp",
            direction="out",
            sender="bot",
            text="Hallo",
            status=status,
            provider_message_id=sid,
        )
        session.add(message)
        session.flush()
        return message.id or 0


def _status_of(engine: Engine, message_id: int) -> Message:
    with session_scope(engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message


def test_delivery_and_read_callbacks_update_the_message_status(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    callback = fixture("whatsapp", "status_delivered")
    message_id = _sent_message(engine, settings, callback["MessageSid"])
    path = "/webhooks/whatsapp/status"

    assert post_whatsapp(client, settings, callback, path).status_code == 200
    assert _status_of(engine, message_id).status == "delivered"
    post_whatsapp(client, settings, fixture("whatsapp", "status_read"), path)
    assert _status_of(engine, message_id).status == "read"


def test_a_late_sent_callback_does_not_move_a_read_message_back(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    callback = fixture("whatsapp", "status_sent")
    message_id = _sent_message(engine, settings, callback["MessageSid"], status="read")

    post_whatsapp(client, settings, callback, "/webhooks/whatsapp/status")

    assert _status_of(engine, message_id).status == "read"


def test_an_undelivered_callback_marks_the_message_failed_with_the_twilio_error(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    callback = fixture("whatsapp", "status_undelivered")
    message_id = _sent_message(engine, settings, callback["MessageSid"])

    post_whatsapp(client, settings, callback, "/webhooks/whatsapp/status")

    message = _status_of(engine, message_id)
    assert message.status == "failed"
    assert message.last_error == "twilio error 63016"


def test_an_unsigned_status_callback_is_rejected(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    callback = fixture("whatsapp", "status_delivered")
    message_id = _sent_message(engine, settings, callback["MessageSid"])

    response = post_whatsapp(
        client, settings, callback, "/webhooks/whatsapp/status", signature="bm9wZQ=="
    )

    assert response.status_code == 403
    assert _status_of(engine, message_id).status == "sent"


def test_a_callback_for_an_unknown_message_is_acknowledged_and_ignored(
    client: TestClient, settings: Settings
) -> None:
    callback = dict(fixture("whatsapp", "status_delivered"), MessageSid="SM" + "f" * 32)

    assert post_whatsapp(client, settings, callback, "/webhooks/whatsapp/status").status_code == 200
