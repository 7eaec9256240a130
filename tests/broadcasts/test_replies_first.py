"""Someone writing during a broadcast is answered before the rest of the broadcast.

Asserted by order (what the provider received), not by time.
"""

from __future__ import annotations

from sqlalchemy import Engine

from bot import outbox
from bot.broadcasts.audience import Audience
from bot.broadcasts.sending import create
from bot.channels import Channels
from bot.config import Settings
from bot.db import session_scope
from bot.models import Conversation, utcnow
from tests.broadcasts.people import add_people, drain, run_broadcast_job
from tests.support.fakes.telegram_api import FakeTelegramAPI


def reply(engine: Engine, settings: Settings, conversation_id: int, text: str) -> None:
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        outbox.enqueue(session, conversation, text, settings=settings, sender="bot")


async def test_a_reply_goes_out_before_the_rest_of_a_broadcast(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    people = add_people(engine, settings, 400, languages=("en",))
    with session_scope(engine) as session:
        create(session, settings, staff_id=None, texts={"en": "News"}, audience=Audience())
    now = utcnow()
    run_broadcast_job(engine, settings, now)
    await outbox.send_due(engine, settings, now=now, channels=channels)  # the first batch
    first_batch = len(fake_telegram.sent)
    # Two people write while 300 broadcast messages wait: one whose broadcast message is
    # still queued, one who already got it.
    waiting, served = people[-1], people[0]
    reply(engine, settings, waiting.conversation_id, "Your answer")
    reply(engine, settings, served.conversation_id, "Another answer")

    rounds = []
    for _ in range(2):
        before = len(fake_telegram.sent)
        await outbox.send_due(engine, settings, now=utcnow(), channels=channels)
        rounds.append({(m.chat_id, m.text.split("\n")[0]) for m in fake_telegram.sent[before:]})
    await drain(engine, settings, channels, utcnow())

    assert first_batch == settings.outbox_batch_size
    # The next round takes the answer to the one who got the news already, and the news
    # of the one still waiting for it (a conversation keeps its order) ...
    assert {(served.address, "Another answer"), (waiting.address, "News")} <= rounds[0]
    # ... and the round after, that one's answer, while people still wait for the news.
    assert (waiting.address, "Your answer") in rounds[1]
    assert len(fake_telegram.sent) == 402
    assert first_batch + len(rounds[0]) + len(rounds[1]) == 300 < 402
