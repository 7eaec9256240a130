"""A broadcast reaches each person once, in their language, through the real clients.

The job and the outbox run by hand (with a clock the test moves); python-telegram-bot
and twilio talk to the fake servers.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from bot.broadcasts.audience import Audience
from bot.broadcasts.sending import create
from bot.broadcasts.texts import stop_hint
from bot.channels import Channels
from bot.config import LANGUAGES, Settings
from bot.db import session_scope
from bot.i18n import strip_isolates
from bot.models import Contact, Conversation, utcnow
from bot.privacy.erasure import erase_but_goodbye
from tests.broadcasts.conftest import TEMPLATES
from tests.broadcasts.people import DAY, add_people, drain, run_broadcast_job
from tests.support.fakes.server import Fault
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI

TEXTS = {
    "nl": "Het aanmeldcentrum is verhuisd naar de Belliardstraat 68.",
    "fr": "Le centre d'enregistrement a déménagé rue Belliard 68.",
    "en": "The registration centre has moved to Belliardstraat 68.",
    "uk": "Центр реєстрації переїхав на Belliardstraat 68.",
    "ps": "د نوم لیکنې مرکز Belliardstraat 68 ته کډ شوی.",
    "fa": "مرکز ثبت نام به Belliardstraat 68 منتقل شده است.",
}


def send_broadcast(
    engine: Engine, settings: Settings, audience: Audience | None = None, **texts: str
) -> int:
    with session_scope(engine) as session:
        broadcast, _ = create(
            session,
            settings,
            staff_id=None,
            texts=texts or TEXTS,
            audience=audience or Audience(),
        )
        assert broadcast.id is not None
        return broadcast.id


def expected(settings: Settings, language: str) -> str:
    return strip_isolates(TEXTS[language] + "\n\n" + stop_hint(settings, language))


async def test_2000_people_in_six_languages_each_get_it_once_in_their_language(
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_telegram: FakeTelegramAPI,
    fake_twilio: FakeTwilioAPI,
) -> None:
    now = utcnow()
    on_telegram = add_people(engine, settings, 1000, channel="telegram")
    in_window = add_people(engine, settings, 800, channel="whatsapp")
    # wrote three days ago: WhatsApp allows only an approved template
    outside = add_people(
        engine, settings, 200, channel="whatsapp", start=800, last_wrote=timedelta(days=3)
    )
    send_broadcast(engine, settings)

    now = utcnow()
    run_broadcast_job(engine, settings, now)
    await drain(engine, settings, channels, now)

    telegram = Counter(m.chat_id for m in fake_telegram.sent)
    assert len(telegram) == 1000 and set(telegram.values()) == {1}
    for person in on_telegram:
        [message] = fake_telegram.sent_to(person.address)
        assert strip_isolates(message.text) == expected(settings, person.language)
    whatsapp = Counter(m.to for m in fake_twilio.sent)
    assert len(whatsapp) == 1000 and set(whatsapp.values()) == {1}
    for person in in_window:
        [message] = fake_twilio.sent_to(person.address)
        assert strip_isolates(message.body or "") == expected(settings, person.language)
    for person in outside:
        [message] = fake_twilio.sent_to(person.address)
        assert message.content_sid == TEMPLATES[person.language] and not message.body
    assert {p.language for p in on_telegram} == set(LANGUAGES)


async def test_people_who_opted_out_or_are_being_erased_get_nothing(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    now = utcnow()
    stays, stopped, erased = add_people(engine, settings, 3, languages=("nl",))
    with session_scope(engine) as session:
        contact = session.get(Contact, stopped.contact_id)
        assert contact is not None
        contact.broadcasts_opted_out_at = now - DAY
        gone = session.get(Contact, erased.contact_id)
        kept = session.get(Conversation, erased.conversation_id)
        assert gone is not None and kept is not None
        erase_but_goodbye(session, gone, kept, now=now)
    send_broadcast(engine, settings, nl=TEXTS["nl"])

    now = utcnow()
    run_broadcast_job(engine, settings, now)
    await drain(engine, settings, channels, now)

    assert [m.chat_id for m in fake_telegram.sent] == [stays.address]


async def test_a_language_without_a_text_is_not_sent_to(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    now = utcnow()
    people = add_people(engine, settings, 12)
    send_broadcast(engine, settings, nl=TEXTS["nl"], fa=TEXTS["fa"])

    now = utcnow()
    run_broadcast_job(engine, settings, now)
    await drain(engine, settings, channels, now)

    reached = {p.address for p in people if p.language in ("nl", "fa")}
    assert {m.chat_id for m in fake_telegram.sent} == reached
    assert len(fake_telegram.sent) == 4


async def test_the_audience_is_the_people_who_asked_about_the_topic_recently(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    now = utcnow()
    # a topic below asylum.apply counts for it
    asked = add_people(engine, settings, 2, topic="asylum.apply.registration", languages=("en",))
    other = add_people(engine, settings, 2, start=10, topic="health.medical_care")
    long_ago = add_people(
        engine, settings, 2, start=20, last_wrote=timedelta(days=90), languages=("en",)
    )
    audience = Audience(topics=("asylum.apply",), topic_days=30)
    send_broadcast(engine, settings, audience, en=TEXTS["en"], nl=TEXTS["nl"])

    now = utcnow()
    run_broadcast_job(engine, settings, now)
    await drain(engine, settings, channels, now)

    assert {m.chat_id for m in fake_telegram.sent} == {p.address for p in asked}
    assert other and long_ago


async def test_provider_429s_slow_the_broadcast_down_without_losing_anyone(
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_telegram: FakeTelegramAPI,
    fake_twilio: FakeTwilioAPI,
) -> None:
    from bot import outbox

    settings.outbox_rates = "telegram=1000,whatsapp=1000"
    now = utcnow()
    people = add_people(engine, settings, 150, channel="telegram")
    people += add_people(engine, settings, 150, channel="whatsapp", start=500)
    fake_telegram.fail_randomly(0.2, [Fault.rate_limit(1), Fault.error(502)], seed=3)
    fake_twilio.fail_randomly(0.2, [Fault.rate_limit(1), Fault.error(503)], seed=4)
    send_broadcast(engine, settings)

    now = utcnow()
    run_broadcast_job(engine, settings, now)
    await drain(engine, settings, channels, now)

    assert fake_telegram.faults_injected and fake_twilio.faults_injected
    received = Counter([m.chat_id for m in fake_telegram.sent] + [m.to for m in fake_twilio.sent])
    assert received == Counter(p.address for p in people)
    # both channels were slowed to a fraction of their rate
    assert outbox.PACES["telegram"].factor < 1 and outbox.PACES["whatsapp"].factor < 1


async def test_two_instances_running_the_job_queue_each_person_once(
    engine: Engine, settings: Settings
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy.exc import OperationalError

    from bot.broadcasts.sending import queue_due
    from bot.db import make_engine
    from bot.models import BroadcastRecipient, Message

    add_people(engine, settings, 450)
    send_broadcast(engine, settings)
    now = utcnow()

    def instance() -> None:
        """One worker process: its own engine; a failed run (a lock) is run again."""
        own = make_engine(settings.database_url)
        idle = 0
        while idle < 3:
            try:
                idle = 0 if queue_due(own, settings, now=now) else idle + 1
            except OperationalError:
                idle = 0
        own.dispose()

    with ThreadPoolExecutor(2) as pool:
        for run in [pool.submit(instance), pool.submit(instance)]:
            run.result()

    with session_scope(engine) as session:
        recipients = session.exec(select(BroadcastRecipient.contact_id)).all()
        messages = session.exec(select(Message.id).where(col(Message.direction) == "out")).all()
    assert len(recipients) == len(set(recipients)) == 450
    assert len(messages) == 450


def test_a_channel_keeps_to_its_rate_halves_it_after_a_429_and_recovers() -> None:
    from bot.outbox import Pace

    pace = Pace()
    assert [pace.delay(10, now=0.0) for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])
    pace.slow_down(now=0.3)
    pace.slow_down(now=0.5)  # the 429s of one burst count once
    assert [pace.delay(10, now=0.3) for _ in range(2)] == pytest.approx([0.0, 0.2])
    pace.slow_down(now=2.0)
    assert pace.factor == 0.25
    pace.delay(10, now=2.0 + Pace.SLOWED_FOR)
    assert pace.factor == 0.5  # doubles back after a while without a 429 ...
    later = 2.0 + 2 * Pace.SLOWED_FOR
    assert [pace.delay(10, now=later) for _ in range(2)] == pytest.approx([0.0, 0.1])
