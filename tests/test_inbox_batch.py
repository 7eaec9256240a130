"""Webhooks that arrive together are stored together, without weakening anything.

The group writer stores a batch with a few statements for all its messages
(``inbox.store_many``). A message the database refuses sends the batch back to one
message at a time, so that only that message's request fails; a batch that cannot be
committed acknowledges nothing; and each request is answered only once its own row is
committed. The database refuses a message for real here: a trigger that rejects one
text, as a constraint would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from bot import inbox
from bot.app import create_app
from bot.config import Settings
from bot.messages import Inbound
from bot.models import Contact, ContactRecord, Conversation, Message, MessageStatus, utcnow
from tests.support.channels import (
    fixture,
    inbound_messages,
    settings_with_fake_providers,  # noqa: F401 (a fixture: this module's settings)
)
from tests.support.live_server import LiveServer

POISON = "refused by the database"


@pytest.fixture
def refuse_poison(engine: Engine) -> Iterator[None]:
    """The database rejects any inbound message with the text ``POISON``."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON message "
                    f"WHEN NEW.text = '{POISON}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE OR REPLACE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.text = '{POISON}' THEN "
                    "RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON message "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
    yield
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER IF EXISTS refuse_poison"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS refuse_poison ON message"))
            connection.execute(text("DROP FUNCTION IF EXISTS refuse_poison()"))


def said(n: int, words: str, *, address: str | None = None) -> Inbound:
    return Inbound(
        "telegram", address or f"{7770000 + n}", f"batch-{n}", words, None, None, None, utcnow()
    )


async def store_together(writer: inbox.InboundWriter, inbounds: list[Inbound]) -> list[object]:
    """Hand the writer every message before it runs: one batch."""
    return await asyncio.gather(*(writer.store(i) for i in inbounds), return_exceptions=True)


def stored_texts(engine: Engine) -> list[str | None]:
    return [m.text for m in inbound_messages(engine)]


async def test_a_batch_is_stored_as_one_message_at_a_time_would_be(
    engine: Engine, settings: Settings
) -> None:
    writer = inbox.InboundWriter(engine, settings)
    first = [said(n, f"question {n}") for n in range(6)]
    # A second message from person 0 and 1, a retry of person 2's, a new person twice.
    second = [
        said(10, "and another thing", address=first[0].address),
        said(11, "thanks", address=first[1].address),
        first[2],
        said(12, "hello"),
        said(13, "are you there?", address=said(12, "").address),
    ]
    try:
        assert await store_together(writer, first) == [True] * 6
        assert await store_together(writer, second) == [True, True, False, True, True]
    finally:
        await writer.aclose()

    with Session(engine) as session:
        conversations = session.exec(select(Conversation)).all()
        assert len(session.exec(select(Contact)).all()) == 7
        assert len(conversations) == 7  # one each: a person's second message joins theirs
        assert len(session.exec(select(ContactRecord)).all()) == 7
        messages = session.exec(select(Message).order_by(col(Message.id))).all()
    assert [m.text for m in messages] == [
        *(f"question {n}" for n in range(6)),
        "and another thing",
        "thanks",
        "hello",
        "are you there?",
    ]
    assert {m.status for m in messages} == {MessageStatus.received}
    by_id = {c.id: c for c in conversations}
    assert messages[6].conversation_id == messages[0].conversation_id
    assert messages[9].conversation_id == messages[8].conversation_id
    assert by_id[messages[0].conversation_id].last_message_at == second[0].received_at.replace(
        tzinfo=by_id[messages[0].conversation_id].last_message_at.tzinfo
    )


@pytest.mark.usefixtures("refuse_poison")
async def test_one_message_the_database_refuses_fails_alone_in_its_batch(
    engine: Engine, settings: Settings
) -> None:
    writer = inbox.InboundWriter(engine, settings)
    batch = [said(n, f"question {n}") for n in range(5)]
    batch.insert(2, said(99, POISON))
    try:
        results = await store_together(writer, batch)
    finally:
        await writer.aclose()

    assert [r for i, r in enumerate(results) if i != 2] == [True] * 5
    assert isinstance(results[2], IntegrityError)  # the webhook answers 503 for it
    assert stored_texts(engine) == [f"question {n}" for n in range(5)]


async def test_a_batch_cut_off_midway_acknowledges_nothing_and_the_retry_stores_it_once(
    engine: Engine, settings: Settings
) -> None:
    """The connection to the database lost while the batch is being stored."""
    batch = [said(n, f"question {n}") for n in range(5)]
    cut: list[str] = []

    def lose_connection(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("INSERT INTO message") and not cut:
            cut.append(statement)
            raise OperationalError(
                statement,
                {},
                Exception("server closed the connection"),
                connection_invalidated=True,
            )

    event.listen(engine, "before_cursor_execute", lose_connection)
    writer = inbox.InboundWriter(engine, settings)
    try:
        results = await store_together(writer, batch)
        assert cut and all(isinstance(r, OperationalError) for r in results)  # all 503
        assert stored_texts(engine) == []

        assert await store_together(writer, batch) == [True] * 5  # the providers retry
        assert await store_together(writer, batch) == [False] * 5
    finally:
        event.remove(engine, "before_cursor_execute", lose_connection)
        await writer.aclose()
    assert stored_texts(engine) == [f"question {n}" for n in range(5)]


def telegram_update(n: int, words: str) -> dict[str, object]:
    update = fixture("telegram", "text")
    update["update_id"] = 1000 + n
    update["message"].update(
        {"message_id": n, "text": words, "chat": {**update["message"]["chat"], "id": 8800 + n}}
    )
    update["message"]["from"] = {**update["message"]["from"], "id": 8800 + n}
    return update


@pytest.mark.usefixtures("refuse_poison")
async def test_webhooks_posted_together_answer_503_only_for_the_refused_message(
    engine: Engine, settings: Settings
) -> None:
    words = [f"question {n}" for n in range(12)]
    words[5] = POISON
    with LiveServer(create_app(settings, engine)) as server:
        headers = {"X-Telegram-Bot-Api-Secret-Token": settings.telegram_webhook_secret or ""}
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            responses = await asyncio.gather(
                *(
                    client.post("/webhooks/telegram", json=telegram_update(n, w), headers=headers)
                    for n, w in enumerate(words)
                )
            )

    statuses = [r.status_code for r in responses]
    assert statuses[5] == 503
    assert statuses[:5] + statuses[6:] == [200] * 11
    assert sorted(stored_texts(engine)) == sorted(w for w in words if w != POISON)


@pytest.fixture
def quick_flood_limit(settings: Settings) -> Settings:
    settings.inbound_limit, settings.inbound_limit_seconds = 3, 60.0
    return settings


async def test_a_flood_in_one_batch_is_kept_for_staff_as_one_by_one(
    engine: Engine, quick_flood_limit: Settings
) -> None:
    settings = quick_flood_limit
    writer = inbox.InboundWriter(engine, settings)
    start = utcnow()
    flood = [
        Inbound("telegram", "7779999", f"flood-{n}", f"spam {n}", None, None, None, start)
        for n in range(5)
    ]
    flood = [
        Inbound(i.channel, i.address, i.provider_message_id, i.text, None, None, None, at)
        for i, at in zip(flood, (start + timedelta(seconds=n) for n in range(5)), strict=True)
    ]
    try:
        assert await store_together(writer, flood) == [True] * 5
    finally:
        await writer.aclose()
    statuses = [m.status for m in inbound_messages(engine)]
    assert statuses == [MessageStatus.received] * 3 + [MessageStatus.handled] * 2
