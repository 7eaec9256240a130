"""The outbox: stored first, sent by the worker, retried without loss or doubles.

The job runs by hand with a clock the test chooses; the real python-telegram-bot
and twilio clients talk to the fake servers, which inject the faults.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from bot import outbox
from bot.channels import Channels
from bot.config import Settings
from bot.db import session_scope
from bot.messages import Button
from bot.models import Conversation, Message, utcnow
from tests.support.channels import (
    new_conversation,
    settings_with_fake_providers,  # noqa: F401 (a fixture: this module's settings)
)
from tests.support.fakes.server import Fault
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI

CHAT = "5550001234"
NUMBER = "whatsapp:+32478123456"


def enqueue(
    engine: Engine,
    settings: Settings,
    conversation: Conversation,
    text: str,
    *,
    buttons: list[Button] | None = None,
    now: datetime | None = None,
    priority: int = outbox.REPLY,
) -> int:
    with session_scope(engine) as session:
        message = outbox.enqueue(
            session,
            conversation,
            text,
            sender="bot",
            buttons=buttons,
            now=now,
            settings=settings,
            priority=priority,
        )
        return message.id or 0


def outbound(engine: Engine) -> list[Message]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Message).where(Message.direction == "out").order_by(col(Message.id))
            ).all()
        )


def message(engine: Engine, message_id: int) -> Message:
    with session_scope(engine) as session:
        found = session.get(Message, message_id)
        assert found is not None
        return found


async def drain(
    engine: Engine, settings: Settings, channels: Channels, start: datetime, rounds: int = 30
) -> datetime:
    """Run the job until nothing is left, moving the clock past every backoff."""
    now = start
    for _ in range(rounds):
        await outbox.send_due(engine, settings, now=now, channels=channels)
        pending = [m for m in outbound(engine) if m.status in ("queued", "sending")]
        if not pending:
            return now
        now = max(m.next_attempt_at or now for m in pending) + timedelta(seconds=1)
    raise AssertionError("the outbox did not drain")


# --- sending ------------------------------------------------------------------------------


async def test_a_telegram_message_goes_out_with_an_inline_keyboard(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    conversation = new_conversation(engine, settings, "telegram", CHAT)
    buttons = [Button("lang:nl", "Nederlands"), Button("lang:uk", "Українська")]
    message_id = enqueue(engine, settings, conversation, "Kies je taal", buttons=buttons)

    sent = await outbox.send_due(engine, settings, now=utcnow(), channels=channels)

    assert sent == 1
    [delivered] = fake_telegram.sent
    assert (delivered.chat_id, delivered.text) == (CHAT, "Kies je taal")
    assert delivered.button_payloads == ["lang:nl", "lang:uk"]
    stored = message(engine, message_id)
    assert stored.status == "sent"
    assert stored.provider_message_id and stored.provider_message_id.endswith(
        f":{delivered.message_id}"
    )
    assert CHAT not in stored.provider_message_id


async def test_a_whatsapp_message_carries_its_buttons_as_numbered_lines(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    conversation = new_conversation(engine, settings, "whatsapp", NUMBER)
    buttons = [Button("yes", "Ja"), Button("no", "Nee"), Button("human", "Een medewerker")]
    message_id = enqueue(engine, settings, conversation, "Heeft dit geholpen?", buttons=buttons)

    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)

    [delivered] = fake_twilio.sent
    assert delivered.to == NUMBER
    assert delivered.body == "Heeft dit geholpen?\n\n1 Ja\n2 Nee\n3 Een medewerker"
    assert delivered.status_callback == "http://testserver/webhooks/whatsapp/status"
    assert message(engine, message_id).provider_message_id == delivered.sid


async def test_messages_of_one_conversation_go_out_in_order(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    conversation = new_conversation(engine, settings, "telegram", CHAT)
    for text in ("first", "second", "third"):
        enqueue(engine, settings, conversation, text)
    fake_telegram.fail_next(Fault.error(500))

    await drain(engine, settings, channels, utcnow())

    assert [m.text for m in fake_telegram.sent] == ["first", "second", "third"]


async def test_a_text_longer_than_whatsapp_allows_goes_out_in_pieces(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    conversation = new_conversation(engine, settings, "whatsapp", NUMBER)
    paragraphs = [f"Paragraph {i}. " + "word " * 150 for i in range(5)]
    enqueue(engine, settings, conversation, "\n\n".join(paragraphs), buttons=[Button("ok", "OK")])

    await drain(engine, settings, channels, utcnow())

    bodies = [m.body or "" for m in fake_twilio.sent]
    assert len(bodies) > 1
    assert all(len(body) <= 1600 for body in bodies)
    assert " ".join(" ".join(bodies).split()).startswith("Paragraph 0.")
    assert "Paragraph 4." in bodies[-1] and bodies[-1].endswith("1 OK")


# --- transient failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [Fault.error(500), Fault.error(502), Fault.rate_limit(3), Fault.hang(), Fault.close()],
    ids=["500", "502", "429", "hang", "close"],
)
async def test_telegram_faults_are_retried_and_the_message_arrives_exactly_once(
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_telegram: FakeTelegramAPI,
    fault: Fault,
) -> None:
    conversation = new_conversation(engine, settings, "telegram", CHAT)
    message_id = enqueue(engine, settings, conversation, "Hallo")
    fake_telegram.fail_next(fault, fault)
    now = utcnow()

    await outbox.send_due(engine, settings, now=now, channels=channels)

    retrying = message(engine, message_id)
    assert retrying.status == "queued"
    assert retrying.attempts == 1
    assert retrying.last_error
    assert fake_telegram.sent == []
    await drain(engine, settings, channels, now)
    assert [m.text for m in fake_telegram.sent] == ["Hallo"]
    assert message(engine, message_id).status == "sent"


@pytest.mark.parametrize(
    "fault",
    [Fault.error(500), Fault.error(503), Fault.rate_limit(3), Fault.hang(), Fault.close()],
    ids=["500", "503", "429", "hang", "close"],
)
async def test_twilio_faults_are_retried_and_the_message_arrives_exactly_once(
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_twilio: FakeTwilioAPI,
    fault: Fault,
) -> None:
    conversation = new_conversation(engine, settings, "whatsapp", NUMBER)
    message_id = enqueue(engine, settings, conversation, "Hallo")
    fake_twilio.fail_next(fault, fault)
    now = utcnow()

    await outbox.send_due(engine, settings, now=now, channels=channels)

    assert message(engine, message_id).status == "queued"
    assert fake_twilio.sent == []
    await drain(engine, settings, channels, now)
    assert [m.body for m in fake_twilio.sent] == ["Hallo"]
    assert message(engine, message_id).status == "sent"


@pytest.mark.parametrize("channel", ["telegram", "whatsapp"])
async def test_a_429_is_not_retried_before_its_retry_after(
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_telegram: FakeTelegramAPI,
    fake_twilio: FakeTwilioAPI,
    channel: str,
) -> None:
    settings.outbox_backoff_seconds = 0.1
    conversation = new_conversation(
        engine, settings, channel, CHAT if channel == "telegram" else NUMBER
    )
    message_id = enqueue(engine, settings, conversation, "Hallo")
    fake = fake_telegram if channel == "telegram" else fake_twilio
    fake.fail_next(Fault.rate_limit(30))
    now = utcnow()

    await outbox.send_due(engine, settings, now=now, channels=channels)
    await outbox.send_due(engine, settings, now=now + timedelta(seconds=29), channels=channels)

    waiting = message(engine, message_id)
    assert waiting.status == "queued"
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at >= now + timedelta(seconds=30)
    assert fake.sent == []
    await outbox.send_due(engine, settings, now=now + timedelta(seconds=31), channels=channels)
    assert len(fake.sent) == 1


async def test_backoff_grows_exponentially_with_jitter(settings: Settings) -> None:
    settings.outbox_backoff_seconds = 2
    settings.outbox_backoff_max_seconds = 60
    rng = random.Random(4)
    delays = [outbox.backoff_seconds(settings, attempt, rng=rng) for attempt in range(1, 9)]

    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(60, 2 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)


async def test_a_message_is_failed_after_the_last_allowed_attempt(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    settings.outbox_max_attempts = 3
    conversation = new_conversation(engine, settings, "telegram", CHAT)
    message_id = enqueue(engine, settings, conversation, "Hallo")
    fake_telegram.fail_next(*[Fault.error(500)] * 3)

    await drain(engine, settings, channels, utcnow())

    failed = message(engine, message_id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.last_error and failed.last_error.startswith("gave up")
    assert fake_telegram.sent == []


async def test_under_random_faults_every_message_arrives_exactly_once(
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_telegram: FakeTelegramAPI,
    fake_twilio: FakeTwilioAPI,
) -> None:
    settings.provider_timeout_seconds = 0.5
    faults = [Fault.error(500), Fault.error(503), Fault.rate_limit(1), Fault.close(), Fault.hang()]
    fake_telegram.fail_randomly(0.4, faults, seed=7)
    # Twilio can be asked what it took, so even a lost answer does not double a message
    fake_twilio.fail_randomly(0.4, [*faults, Fault.accept_then_close()], seed=8)
    expected: list[str] = []
    for person in range(12):
        channel = "telegram" if person % 2 else "whatsapp"
        address = (
            f"{5550000000 + person}" if channel == "telegram" else f"whatsapp:+3247800{person:04d}"
        )
        conversation = new_conversation(engine, settings, channel, address)
        for n in range(3):
            text = f"person {person} message {n}"
            enqueue(engine, settings, conversation, text)
            expected.append(text)
    now = utcnow()
    fake_twilio.clock = lambda: now.timestamp()  # Twilio's clock moves with ours

    for _ in range(8):
        await outbox.send_due(engine, settings, now=now, channels=channels)
        now += timedelta(minutes=5)
    fake_telegram.clear_faults()
    fake_twilio.clear_faults()
    await drain(engine, settings, channels, now, rounds=60)

    delivered = [m.text for m in fake_telegram.sent] + [m.body or "" for m in fake_twilio.sent]
    assert fake_telegram.faults_injected + fake_twilio.faults_injected > 0
    assert sorted(delivered) == sorted(expected)  # none lost, none twice
    assert {m.status for m in outbound(engine)} == {"sent"}


# --- permanent failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "error"),
    [("block", "blocked by the user"), ("forget", "chat not found")],
)
async def test_a_permanent_telegram_failure_is_recorded_and_not_retried(
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_telegram: FakeTelegramAPI,
    setup: str,
    error: str,
) -> None:
    getattr(fake_telegram, setup)(CHAT)
    conversation = new_conversation(engine, settings, "telegram", CHAT)
    message_id = enqueue(engine, settings, conversation, "Hallo")

    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)
    again = await outbox.send_due(
        engine, settings, now=utcnow() + timedelta(days=1), channels=channels
    )

    failed = message(engine, message_id)
    assert failed.status == "failed"
    assert failed.last_error and error in failed.last_error.lower()
    assert again == 0


@pytest.mark.parametrize("code", [21211, 21610])
async def test_a_permanent_twilio_failure_is_recorded_without_the_phone_number(
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_twilio: FakeTwilioAPI,
    code: int,
) -> None:
    fake_twilio.reject(NUMBER, code)
    conversation = new_conversation(engine, settings, "whatsapp", NUMBER)
    message_id = enqueue(engine, settings, conversation, "Hallo")

    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)

    failed = message(engine, message_id)
    assert failed.status == "failed"
    assert failed.last_error == f"twilio 400 error {code}"


async def test_a_failed_message_does_not_block_the_next_one(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    conversation = new_conversation(engine, settings, "telegram", CHAT)
    enqueue(engine, settings, conversation, "   ")  # Telegram refuses an empty text
    enqueue(engine, settings, conversation, "Hallo")

    await drain(engine, settings, channels, utcnow())

    assert [m.status for m in outbound(engine)] == ["failed", "sent"]
    assert [m.text for m in fake_telegram.sent] == ["Hallo"]


# --- crashes ------------------------------------------------------------------------------


async def test_a_message_left_sending_by_a_crashed_worker_is_sent_after_its_lease(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    conversation = new_conversation(engine, settings, "telegram", CHAT)
    message_id = enqueue(engine, settings, conversation, "Hallo")
    now = utcnow()
    [claim] = outbox.claim_due(engine, settings, ["telegram"], now=now)  # then the worker died

    during_lease = await outbox.send_due(
        engine, settings, now=now + timedelta(seconds=60), channels=channels
    )
    after_lease = await outbox.send_due(
        engine,
        settings,
        now=now + timedelta(seconds=settings.outbox_lease_seconds + 1),
        channels=channels,
    )

    assert claim.message_id == message_id
    assert (during_lease, after_lease) == (0, 1)
    assert [m.text for m in fake_telegram.sent] == ["Hallo"]
    assert message(engine, message_id).attempts == 2


async def test_two_workers_never_claim_the_same_message(engine: Engine, settings: Settings) -> None:
    for n in range(6):
        conversation = new_conversation(engine, settings, "telegram", f"{5550000100 + n}")
        enqueue(engine, settings, conversation, f"message {n}")
    now = utcnow()

    first = outbox.claim_due(engine, settings, ["telegram"], now=now)
    second = outbox.claim_due(engine, settings, ["telegram"], now=now)

    assert len(first) == 6
    assert second == []


async def test_a_reply_is_claimed_before_bulk_messages_queued_earlier(
    engine: Engine, settings: Settings
) -> None:
    """A broadcast waiting in the outbox never makes someone writing now wait."""
    settings = settings.model_copy(update={"outbox_batch_size": 3})
    now = utcnow()
    for n in range(5):
        conversation = new_conversation(engine, settings, "telegram", f"{5550000200 + n}")
        enqueue(engine, settings, conversation, f"news {n}", priority=outbox.BULK, now=now)
    writing = new_conversation(engine, settings, "telegram", "5550000300")
    reply = enqueue(engine, settings, writing, "your answer", now=now)

    first = outbox.claim_due(engine, settings, ["telegram"], now=now)

    assert first[0].message_id == reply
    assert [c.outbound.text for c in first] == ["your answer", "news 0", "news 1"]


async def test_bulk_messages_of_one_conversation_still_go_after_its_earlier_messages(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    conversation = new_conversation(engine, settings, "telegram", CHAT)
    enqueue(engine, settings, conversation, "news", priority=outbox.BULK)
    enqueue(engine, settings, conversation, "answer")

    await drain(engine, settings, channels, utcnow())

    assert [m.text for m in fake_telegram.sent] == ["news", "answer"]


async def test_a_response_lost_after_the_provider_accepted_is_sent_again_not_lost(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    """The Bot API cannot be asked what it sent: on Telegram, a double, never a loss."""
    conversation = new_conversation(engine, settings, "telegram", CHAT)
    enqueue(engine, settings, conversation, "Hallo")
    fake_telegram.fail_next(Fault.accept_then_close())

    await drain(engine, settings, channels, utcnow())

    assert [m.text for m in fake_telegram.sent] == ["Hallo", "Hallo"]


# --- in doubt: the provider may have the message --------------------------------------------


def after_lease(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(seconds=settings.outbox_lease_seconds + 1)


async def test_a_whatsapp_reply_twilio_took_before_a_crash_is_recorded_not_sent_again(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    conversation = new_conversation(engine, settings, "whatsapp", NUMBER)
    message_id = enqueue(engine, settings, conversation, "Hallo")
    now = utcnow()
    [claim] = outbox.claim_due(engine, settings, ["whatsapp"], now=now)
    accepted = await channels["whatsapp"].send(claim.outbound)  # then the worker died

    attempted = await outbox.send_due(
        engine, settings, now=after_lease(settings, now), channels=channels
    )

    assert attempted == 1
    assert [m.sid for m in fake_twilio.sent] == [accepted]
    assert len(fake_twilio.lookups()) == 1
    stored = message(engine, message_id)
    assert (stored.status, stored.provider_message_id) == ("sent", accepted)
    assert stored.in_doubt_since is None


async def test_a_whatsapp_reply_lost_in_a_crash_before_twilio_took_it_is_sent_after_asking(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    conversation = new_conversation(engine, settings, "whatsapp", NUMBER)
    message_id = enqueue(engine, settings, conversation, "Hallo")
    now = utcnow()
    outbox.claim_due(engine, settings, ["whatsapp"], now=now)  # the worker died before sending

    await outbox.send_due(engine, settings, now=after_lease(settings, now), channels=channels)

    [delivered] = fake_twilio.sent
    assert delivered.body == "Hallo"
    assert len(fake_twilio.lookups()) == 1
    assert message(engine, message_id).provider_message_id == delivered.sid


async def test_a_whatsapp_answer_lost_after_twilio_took_the_message_does_not_double_it(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    conversation = new_conversation(engine, settings, "whatsapp", NUMBER)
    message_id = enqueue(engine, settings, conversation, "Hallo")
    fake_twilio.fail_next(Fault.accept_then_close())
    now = utcnow()

    await outbox.send_due(engine, settings, now=now, channels=channels)
    in_doubt = message(engine, message_id)
    await drain(engine, settings, channels, now)

    assert (in_doubt.status, in_doubt.in_doubt_since) == ("queued", now)
    [delivered] = fake_twilio.sent
    assert message(engine, message_id).provider_message_id == delivered.sid


async def test_an_earlier_identical_reply_already_recorded_is_not_taken_for_the_lost_one(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    """The same answer twice in a row: the first is ours on record, so the second is sent."""
    conversation = new_conversation(engine, settings, "whatsapp", NUMBER)
    first = enqueue(engine, settings, conversation, "Hallo")
    now = utcnow()
    await outbox.send_due(engine, settings, now=now, channels=channels)
    second = enqueue(engine, settings, conversation, "Hallo")
    outbox.claim_due(engine, settings, ["whatsapp"], now=now)  # the worker died before sending

    await outbox.send_due(engine, settings, now=after_lease(settings, now), channels=channels)

    assert [m.body for m in fake_twilio.sent] == ["Hallo", "Hallo"]
    recorded = {
        message(engine, first).provider_message_id,
        message(engine, second).provider_message_id,
    }
    assert recorded == {m.sid for m in fake_twilio.sent}


async def test_when_twilio_cannot_be_asked_the_message_waits_in_doubt_and_is_not_doubled(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    conversation = new_conversation(engine, settings, "whatsapp", NUMBER)
    message_id = enqueue(engine, settings, conversation, "Hallo")
    fake_twilio.faults_on_lookups = True
    fake_twilio.fail_next(Fault.accept_then_close(), Fault.error(500), Fault.rate_limit(30))
    now = utcnow()

    await outbox.send_due(engine, settings, now=now, channels=channels)  # taken, answer lost
    first_lookup = await outbox.send_due(
        engine, settings, now=now + timedelta(minutes=5), channels=channels
    )  # the lookup fails
    waiting = message(engine, message_id)
    await outbox.send_due(
        engine, settings, now=now + timedelta(minutes=10), channels=channels
    )  # the lookup is rate limited
    limited = message(engine, message_id)
    await drain(engine, settings, channels, now + timedelta(minutes=11))

    assert first_lookup == 1
    assert (waiting.status, waiting.in_doubt_since) == ("queued", now)
    assert waiting.last_error and waiting.last_error.startswith("lookup:")
    assert limited.next_attempt_at is not None
    assert limited.next_attempt_at >= now + timedelta(minutes=10, seconds=30)
    assert len(fake_twilio.sent) == 1
    assert len(fake_twilio.lookups()) == 3
    assert message(engine, message_id).provider_message_id == fake_twilio.sent[0].sid
