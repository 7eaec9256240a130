"""A message whose conversation is erased while it is being stored is not lost.

``inbox.store`` takes an integrity error on its insert for "a concurrent request
stored this message a moment ago" only when that message is really there; any
other (the conversation or contact gone: a foreign key) fails the request, so the
webhook answers 503 and the provider's retry stores the message.

The race is made deterministic with a hook right after ``open_conversation``: the
moment between finding the person's conversation and inserting their message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot import inbox
from bot.app import create_app
from bot.config import Settings
from bot.db import session_scope
from bot.messages import Inbound
from bot.models import Contact, Conversation, Message, utcnow
from bot.privacy import erasure
from tests.support.channels import (
    fixture,
    inbound_messages,
    post_telegram,
    settings_with_fake_providers,  # noqa: F401 (a fixture: this module's settings)
)
from tests.support.database import POSTGRES_URL

ADDRESS = "webchat-race"


def telegram_text(update_id: int, message_id: int, text_: str) -> dict[str, Any]:
    update = fixture("telegram", "text")
    update["update_id"] = update_id
    update["message"].update({"message_id": message_id, "text": text_})
    return update


def after_open_conversation(
    monkeypatch: pytest.MonkeyPatch, hook: Callable[[Session, Conversation], None]
) -> None:
    """Run ``hook`` once, between finding the conversation and inserting the message."""
    original = inbox.open_conversation
    calls = []

    def open_then_hook(session: Session, contact: Contact, *, now: Any) -> Conversation:
        conversation = original(session, contact, now=now)
        if not calls:
            calls.append(conversation.id)
            hook(session, conversation)
        return conversation

    monkeypatch.setattr(inbox, "open_conversation", open_then_hook)


def said(provider_id: str, text_: str) -> Inbound:
    return Inbound("webchat", ADDRESS, provider_id, text_, None, None, None, utcnow())


def contacts(engine: Engine) -> list[Contact]:
    with Session(engine) as session:
        return list(session.exec(select(Contact)).all())


def test_a_conversation_deleted_under_the_insert_is_a_503_and_the_retry_stores_the_message(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both databases: the row is gone when the message is inserted."""
    with TestClient(create_app(settings, engine)) as client:
        assert post_telegram(client, telegram_text(1, 1, "hello")).status_code == 200

        # An erasure deleting the conversation as the next message is inserted. Within
        # the same transaction: on PostgreSQL an erasure in another one would wait for
        # the conversation's row lock (see tests/scaleout/test_row_locks.py).
        def erase(session: Session, conversation: Conversation) -> None:
            session.execute(
                text("DELETE FROM conversation WHERE id = :id"), {"id": conversation.id}
            )

        after_open_conversation(monkeypatch, erase)
        first = post_telegram(client, telegram_text(2, 2, "are you there?"))
        assert first.status_code == 503  # not a 200 for a message that was dropped
        assert first.headers["retry-after"]
        assert [m.text for m in inbound_messages(engine)] == ["hello"]

        retry = post_telegram(client, telegram_text(2, 2, "are you there?"))

    assert retry.status_code == 200
    assert [m.text for m in inbound_messages(engine)] == ["hello", "are you there?"]


@pytest.mark.skipif(
    POSTGRES_URL.startswith("postgresql"),
    reason="PostgreSQL: the erasure waits for the contact's row lock instead "
    "(tests/scaleout/test_row_locks.py)",
)
def test_an_erasure_committed_under_the_insert_fails_the_store_and_the_retry_uses_a_new_contact(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite, in ``inbox.receive`` (the web chat; webhooks without the group writer).

    The reads before the insert take no lock there, so another connection's erasure
    can commit between finding the conversation and inserting the message.
    """
    assert inbox.receive(engine, settings, said("w1", "hi"))

    def erase_elsewhere(session: Session, conversation: Conversation) -> None:
        with session_scope(engine) as other:
            assert erasure.erase_contact(other, conversation.contact_id)

    after_open_conversation(monkeypatch, erase_elsewhere)
    again = said("w2", "still there?")
    with pytest.raises(IntegrityError):  # the caller answers 503: nothing acknowledged
        inbox.receive(engine, settings, again)
    assert contacts(engine) == []  # erased, and nothing of the failed attempt kept

    assert inbox.receive(engine, settings, again) is True  # the retry

    [fresh] = contacts(engine)  # a new contact, with a new conversation
    [stored] = inbound_messages(engine)
    assert stored.text == "still there?"
    with Session(engine) as session:
        conversation = session.get(Conversation, stored.conversation_id)
        assert conversation is not None
        assert conversation.contact_id == fresh.id
        assert conversation.opened_at == stored.created_at


def test_the_same_message_stored_under_the_insert_is_still_a_duplicate(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The integrity error that really is a duplicate is still acknowledged, once."""
    assert inbox.receive(engine, settings, said("w1", "hi"))

    def store_the_twin(session: Session, conversation: Conversation) -> None:
        twin = Message(
            conversation_id=conversation.id or 0,
            channel="webchat",
            direction="in",
            sender="user",
            text="twice?",
            provider_message_id="twin",
        )
        session.add(twin)
        session.flush()

    after_open_conversation(monkeypatch, store_the_twin)

    assert inbox.receive(engine, settings, said("twin", "twice?")) is False
    assert [m.provider_message_id for m in inbound_messages(engine)] == ["w1", "twin"]
