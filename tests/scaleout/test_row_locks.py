"""Two instances touching one person at the same moment, on PostgreSQL.

Each test holds one transaction open, as an instance in the middle of storing a
webhook would, while another "instance" (a thread with its own connection) does
its part; the first commits once the second has either finished or is waiting on
its lock. SQLite has a single writer, so these races cannot happen there.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from bot import conversations, handoff, inbox, outbox
from bot.config import Settings
from bot.db import session_scope
from bot.messages import Inbound
from bot.models import Contact, Conversation, Message, Owner, utcnow
from bot.privacy import erasure
from bot.privacy.erasure import ERASED
from tests.support.database import POSTGRES_URL
from tests.support.factories import add_conversation, add_staff

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL.startswith("postgresql"),
    reason="row locks between instances: set HELPLINE_TEST_DATABASE_URL to a PostgreSQL URL",
)

ADDRESS = "whatsapp:+32470555666"


def message(provider_id: str, at: datetime, text_: str = "hallo") -> Inbound:
    return Inbound("whatsapp", ADDRESS, provider_id, text_, None, None, None, at)


class OtherInstance(threading.Thread):
    """Runs ``work`` on its own connection, as another instance would."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:
            self.error = exc

    def finish(self) -> object:
        self.join(timeout=30)
        assert not self.is_alive(), "the other instance never finished"
        if self.error is not None:
            raise self.error
        return self.result


def finished_or_waiting(engine: Engine, other: OtherInstance, timeout: float = 15) -> None:
    """Until the other instance is done or blocked on a lock our transaction holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not other.is_alive():
            return
        # A transaction of its own each time: PostgreSQL keeps one snapshot of
        # pg_stat_activity per transaction.
        with engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the other instance neither finished nor waited for a lock")


def wrote_before(engine: Engine, settings: Settings) -> None:
    """The person wrote three days ago; that conversation is closed."""
    then = utcnow() - timedelta(days=3)
    assert inbox.receive(engine, settings, message("old-1", then))
    with session_scope(engine) as session:
        conversation = session.exec(select(Conversation)).one()
        conversation.owner, conversation.closed_at = Owner.closed, then
        session.add(conversation)


def open_conversations(engine: Engine) -> list[Conversation]:
    with Session(engine) as session:
        return list(
            session.exec(select(Conversation).where(Conversation.owner != Owner.closed)).all()
        )


def test_two_instances_storing_a_returning_persons_messages_open_one_conversation(
    engine: Engine, settings: Settings
) -> None:
    wrote_before(engine, settings)
    now = utcnow()
    with session_scope(engine) as first:
        assert inbox.store(first, settings, message("new-1", now), now=now) is not None
        first.flush()
        other = OtherInstance(lambda: inbox.receive(engine, settings, message("new-2", now)))
        other.start()
        finished_or_waiting(engine, other)
    assert other.finish() is True

    [conversation] = open_conversations(engine)
    with Session(engine) as session:
        ids = session.exec(
            select(Message.provider_message_id).where(Message.conversation_id == conversation.id)
        ).all()
    assert sorted(ids) == ["new-1", "new-2"]


def test_the_same_message_stored_by_two_instances_at_once_is_kept_once(
    engine: Engine, settings: Settings
) -> None:
    now = utcnow()
    with session_scope(engine) as first:
        assert inbox.store(first, settings, message("twin", now), now=now) is not None
        first.flush()
        other = OtherInstance(lambda: inbox.receive(engine, settings, message("twin", now)))
        other.start()
        finished_or_waiting(engine, other)

    assert other.finish() is False  # a duplicate: answered 2xx, not stored again
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 1


def test_idle_close_leaves_a_conversation_a_message_is_being_stored_in(
    engine: Engine, settings: Settings
) -> None:
    long_ago = utcnow() - timedelta(days=2)
    assert inbox.receive(engine, settings, message("old-1", long_ago))
    now = utcnow()
    with session_scope(engine) as first:
        assert inbox.store(first, settings, message("new-1", now), now=now) is not None
        first.flush()
        other = OtherInstance(lambda: conversations.close_idle(engine, settings, now=now))
        other.start()
        finished_or_waiting(engine, other)
    other.finish()

    [conversation] = open_conversations(engine)
    assert conversation.owner == Owner.bot


def test_an_erasure_finishing_while_the_person_writes_again_keeps_the_new_message(
    engine: Engine, settings: Settings
) -> None:
    then = utcnow() - timedelta(hours=2)
    assert inbox.receive(engine, settings, message("old-1", then))
    with session_scope(engine) as session:
        erased = session.exec(select(Conversation)).one()
        erased.owner, erased.outcome, erased.closed_at = Owner.closed, ERASED, then
        session.add(erased)
    now = utcnow()
    with session_scope(engine) as first:
        assert inbox.store(first, settings, message("again-1", now), now=now) is not None
        first.flush()
        other = OtherInstance(lambda: erasure.finish_erasures(engine, settings, now=now))
        other.start()
        finished_or_waiting(engine, other)
    other.finish()

    with Session(engine) as session:
        kept = session.exec(select(Message.provider_message_id)).all()
        erased_left = session.exec(
            select(Conversation).where(col(Conversation.outcome) == ERASED)
        ).all()
    assert kept == ["again-1"]
    assert erased_left == []


def test_a_message_from_a_person_being_erased_is_stored_for_a_new_contact(
    engine: Engine, settings: Settings
) -> None:
    then = utcnow() - timedelta(hours=2)
    assert inbox.receive(engine, settings, message("old-1", then))
    now = utcnow()
    with session_scope(engine) as first:
        contact = first.exec(select(Contact)).one()
        first.delete(contact)  # the erasure job, not yet committed
        first.flush()
        other = OtherInstance(lambda: inbox.receive(engine, settings, message("again-1", now)))
        other.start()
        finished_or_waiting(engine, other)
    assert other.finish() is True

    with Session(engine) as session:
        assert session.exec(select(Message.provider_message_id)).all() == ["again-1"]
        assert len(session.exec(select(Contact)).all()) == 1


def test_batches_of_two_instances_with_the_same_people_wait_instead_of_deadlocking(
    engine: Engine, settings: Settings
) -> None:
    first_person, second_person = "whatsapp:+32470000001", "whatsapp:+32470000002"

    def from_(address: str, provider_id: str) -> Inbound:
        return Inbound("whatsapp", address, provider_id, "hallo", None, None, None, utcnow())

    for address, provider_id in ((first_person, "a-0"), (second_person, "b-0")):
        assert inbox.receive(engine, settings, from_(address, provider_id))

    async def second_instance() -> list[bool]:
        writer = inbox.InboundWriter(engine, settings)
        try:  # one batch, in the order the webhooks came: the second person first
            return list(
                await asyncio.gather(
                    writer.store(from_(second_person, "b-2")),
                    writer.store(from_(first_person, "a-2")),
                )
            )
        finally:
            await writer.aclose()

    now = utcnow()
    with session_scope(engine) as first:  # mid-batch: the first person stored, then the second
        assert inbox.store(first, settings, from_(first_person, "a-1"), now=now) is not None
        first.flush()
        other = OtherInstance(lambda: asyncio.run(second_instance()))
        other.start()
        finished_or_waiting(engine, other)
        assert inbox.store(first, settings, from_(second_person, "b-1"), now=now) is not None
        first.flush()

    assert other.finish() == [True, True]
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 6


def test_staff_taking_the_next_conversation_on_two_instances_get_different_ones(
    engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as session:
        staff = [add_staff(session, f"s{n}@example.org").id or 0 for n in range(2)]
        waiting = [add_conversation(session, settings, address=str(n)).id for n in range(2)]
    now = utcnow()
    with session_scope(engine) as first:
        taken = handoff.claim_next(first, staff[0], now)
        assert taken is not None
        first.flush()

        def take_next() -> int | None:
            with session_scope(engine) as session:
                conversation = handoff.claim_next(session, staff[1], now)
                return conversation.id if conversation else None

        other = OtherInstance(take_next)
        other.start()
        finished_or_waiting(engine, other)
        assert not other.is_alive(), "the second instance waited for the first"
    assert sorted([taken.id, other.finish()]) == sorted(waiting)


def test_an_outbox_worker_skips_messages_another_instance_is_claiming(
    engine: Engine, settings: Settings
) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        for n in range(3):
            conversation = add_conversation(session, settings, address=str(n), owner=Owner.bot)
            outbox.enqueue(
                session, conversation, f"reply {n}", sender="bot", now=now, settings=settings
            )
    with session_scope(engine) as first:  # another instance, between reading and marking
        being_claimed = first.exec(
            select(Message).where(Message.direction == "out").limit(1).with_for_update()
        ).one()
        other = OtherInstance(lambda: outbox.claim_due(engine, settings, ["telegram"], now=now))
        other.start()
        finished_or_waiting(engine, other)
        assert not other.is_alive(), "the second instance waited for the first"
    claims = other.finish()
    assert isinstance(claims, list)
    assert len(claims) == 2
    assert being_claimed.id not in {claim.message_id for claim in claims}
