"""POST /webhooks/telegram: updates pushed by Telegram with the webhook secret token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import Settings
from bot.conversations import find_contact
from bot.db import make_engine, session_scope
from tests.support.channels import fixture, inbound_messages, post_telegram
from tests.support.fakes.telegram_api import FakeTelegramAPI


def test_a_text_update_is_stored_with_its_update_id(client: TestClient, engine: Engine) -> None:
    update = fixture("telegram", "text")

    response = post_telegram(client, update)

    assert response.status_code == 200
    [stored] = inbound_messages(engine)
    assert stored.channel == "telegram"
    assert stored.text == update["message"]["text"]
    assert stored.provider_message_id == str(update["update_id"])


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", "test-webhook-secret-but-longer"])
def test_an_update_without_the_right_secret_token_is_rejected(
    client: TestClient, engine: Engine, secret: str | None
) -> None:
    response = post_telegram(client, fixture("telegram", "text"), secret=secret)

    assert response.status_code == 403
    assert inbound_messages(engine) == []


def test_no_secret_configured_means_every_update_is_rejected(
    settings: Settings, engine: Engine
) -> None:
    settings.telegram_webhook_secret = ""
    with TestClient(create_app(settings, engine)) as client:
        response = post_telegram(client, fixture("telegram", "text"), secret="")

    assert response.status_code == 403


def test_a_replayed_update_is_acknowledged_but_stored_once(
    client: TestClient, engine: Engine
) -> None:
    update = fixture("telegram", "text")

    assert post_telegram(client, update).status_code == 200
    assert post_telegram(client, update).status_code == 200

    assert len(inbound_messages(engine)) == 1


def test_a_pressed_inline_button_becomes_its_payload_and_is_answered(
    client: TestClient, engine: Engine, settings: Settings, fake_telegram: FakeTelegramAPI
) -> None:
    update = fixture("telegram", "callback_query")

    assert post_telegram(client, update).status_code == 200

    [stored] = inbound_messages(engine)
    assert stored.button == "lang:uk"
    with session_scope(engine) as session:
        chat_id = str(update["callback_query"]["message"]["chat"]["id"])
        assert find_contact(session, settings, "telegram", chat_id) is not None
    assert fake_telegram.answered == [update["callback_query"]["id"]]


@pytest.mark.parametrize(
    ("name", "media_type", "file_id"),
    [
        ("voice", "audio/ogg", "AwACAgQAAxkBAAIBq2V0voice"),
        ("photo", "image/jpeg", "AgACAgQAAxkBAAIBrGV0large"),
        ("sticker", "image/webp", "CAACAgIAAxkBAAIBrWV0sticker"),
        ("document", "application/pdf", "BQACAgQAAxkBAAIBrmV0document"),
    ],
)
def test_media_is_stored_with_its_file_id_for_staff(
    client: TestClient, engine: Engine, name: str, media_type: str, file_id: str
) -> None:
    assert post_telegram(client, fixture("telegram", name)).status_code == 200

    [stored] = inbound_messages(engine)
    assert (stored.media_type, stored.media_ref) == (media_type, file_id)


def test_a_photo_keeps_its_caption_as_text(client: TestClient, engine: Engine) -> None:
    post_telegram(client, fixture("telegram", "photo"))

    [stored] = inbound_messages(engine)
    assert stored.text == "Це лист від Fedasil"


def test_a_shared_location_keeps_no_coordinates(client: TestClient, engine: Engine) -> None:
    update = fixture("telegram", "location")

    assert post_telegram(client, update).status_code == 200

    [stored] = inbound_messages(engine)
    assert stored.media_type == "location"
    assert stored.media_ref is None
    dumped = " ".join(str(v) for v in stored.model_dump().values())
    assert "50.866" not in dumped and "4.349" not in dumped


def test_an_edited_message_is_stored_as_the_persons_new_words(
    client: TestClient, engine: Engine
) -> None:
    post_telegram(client, fixture("telegram", "text"))
    edited = fixture("telegram", "edited_message")

    assert post_telegram(client, edited).status_code == 200

    texts = [m.text for m in inbound_messages(engine)]
    assert texts[-1] == edited["edited_message"]["text"]
    assert len(texts) == 2


@pytest.mark.parametrize("name", ["group_message", "my_chat_member_kicked"])
def test_updates_that_are_not_a_person_writing_privately_are_acknowledged_not_stored(
    client: TestClient, engine: Engine, name: str
) -> None:
    assert post_telegram(client, fixture("telegram", name)).status_code == 200

    assert inbound_messages(engine) == []


def test_malformed_json_is_a_bad_request(client: TestClient, engine: Engine) -> None:
    assert post_telegram(client, b'{"update_id": 1, "message": ').status_code == 400
    assert inbound_messages(engine) == []


@pytest.mark.parametrize(
    "body",
    [
        [1, 2, 3],
        {"message": {"text": "no update id"}},
        {"update_id": "1"},
        {"update_id": 5, "message": {"message_id": "x", "chat": "not a chat"}},
        {"update_id": 6, "message": {"message_id": 1, "date": 0, "chat": None, "text": "hi"}},
        {
            "update_id": 7,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "text": True,
            },
        },
        {
            "update_id": 8,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "text": ["not", "text"],
            },
        },
        {
            "update_id": 9,
            "message": {"message_id": 1, "date": 0, "chat": {"id": "1", "type": "private"}},
        },
    ],
)
def test_json_that_is_not_an_update_is_unprocessable(
    client: TestClient, engine: Engine, body: object
) -> None:
    assert post_telegram(client, body).status_code == 422
    assert inbound_messages(engine) == []


def test_an_oversized_update_is_refused(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    update = fixture("telegram", "text")
    update["message"]["text"] = "x" * (settings.webhook_max_bytes + 1)

    assert post_telegram(client, update).status_code == 413
    assert inbound_messages(engine) == []


def test_with_the_database_down_the_webhook_answers_503_so_telegram_retries(
    settings: Settings, client: TestClient, engine: Engine
) -> None:
    update = fixture("telegram", "voice")
    unreachable = make_engine("postgresql://helpline@127.0.0.1:1/helpline")
    with TestClient(create_app(settings, unreachable)) as down:
        assert post_telegram(down, update).status_code == 503

    assert post_telegram(client, update).status_code == 200
    assert len(inbound_messages(engine)) == 1
