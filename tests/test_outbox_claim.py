"""The outbox claims a batch in one statement, and still gives each message to one worker.

Several workers (threads here, each with its own connection, as instances would have)
claim at the same moment, again and again, until nothing is due: every message is
claimed exactly once, a conversation's later messages wait for its earlier one, and
replies go before bulk messages.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot import outbox
from bot.config import Settings
from bot.db import session_scope
from bot.models import utcnow
from tests.support.channels import (
    new_conversation,
    settings_with_fake_providers,  # noqa: F401 (a fixture: this module's settings)
)

WORKERS = 4


def queue(engine: Engine, settings: Settings, people: int, per_person: int = 1) -> list[int]:
    ids = []
    for n in range(people):
        conversation = new_conversation(engine, settings, "telegram", f"{5551000000 + n}")
        with session_scope(engine) as session:
            for k in range(per_person):
                priority = outbox.BULK if n % 3 == 0 else outbox.REPLY
                message = outbox.enqueue(
                    session,
                    conversation,
                    f"message {n}.{k}",
                    sender="bot",
                    settings=settings,
                    priority=priority,
                )
                ids.append(message.id or 0)
    return ids


def claim_together(engine: Engine, settings: Settings) -> list[list[outbox.Claim]]:
    """Every worker claims at once, again and again, until it finds nothing due."""
    now = utcnow()
    start = threading.Barrier(WORKERS)
    claimed: list[list[outbox.Claim]] = [[] for _ in range(WORKERS)]

    def worker(index: int) -> None:
        start.wait()
        while True:
            try:
                claims = outbox.claim_due(engine, settings, ["telegram"], now=now)
            except OperationalError:  # SQLite: another writer was first; try again
                continue
            if not claims:
                return
            claimed[index] += claims

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return claimed


def test_workers_claiming_at_once_never_get_the_same_message(
    engine: Engine, settings: Settings
) -> None:
    settings.outbox_batch_size = 4
    queued = queue(engine, settings, people=40)

    claimed = claim_together(engine, settings)

    every = [claim.message_id for claims in claimed for claim in claims]
    assert sorted(every) == sorted(queued)  # each exactly once
    assert all(claim.attempts == 1 for claims in claimed for claim in claims)


def test_a_conversation_s_next_message_waits_for_the_one_being_sent(
    engine: Engine, settings: Settings
) -> None:
    settings.outbox_batch_size = 3
    queued = queue(engine, settings, people=6, per_person=3)

    claimed = claim_together(engine, settings)

    firsts = queued[0::3]  # each conversation's first message only, until it is sent
    assert sorted(c.message_id for claims in claimed for c in claims) == sorted(firsts)


def test_one_worker_s_batch_takes_replies_before_bulk(engine: Engine, settings: Settings) -> None:
    settings.outbox_batch_size = 5
    queue(engine, settings, people=9)  # people 0, 3 and 6 get bulk messages

    claims = outbox.claim_due(engine, settings, ["telegram"], now=utcnow())

    assert [c.outbound.text for c in claims] == [
        "message 1.0",
        "message 2.0",
        "message 4.0",
        "message 5.0",
        "message 7.0",
    ]
