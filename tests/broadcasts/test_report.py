"""The report per language, cancelling, and a person's broadcasts in their export and erasure."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from bot import inbox, outbox
from bot.broadcasts import report
from bot.broadcasts.audience import Audience
from bot.broadcasts.sending import cancel, create
from bot.channels import Channels
from bot.config import Settings
from bot.db import session_scope
from bot.messages import Inbound
from bot.models import Broadcast, BroadcastRecipient, Contact, Message, utcnow
from bot.privacy.erasure import erase_contact
from bot.privacy.export import export_contact
from tests.broadcasts.people import add_people, drain, run_broadcast_job
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI

TEXTS = {"nl": "Nieuw adres: Belliardstraat 68.", "en": "New address: Belliardstraat 68."}


def new_broadcast(engine: Engine, settings: Settings, **changes: object) -> int:
    with session_scope(engine) as session:
        broadcast, _ = create(
            session, settings, staff_id=None, texts=TEXTS, audience=Audience(), **changes
        )
        assert broadcast.id is not None
        return broadcast.id


def figures(engine: Engine, broadcast_id: int) -> dict[str, report.Figures]:
    with session_scope(engine) as session:
        broadcast = session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        return report.figures_by_language(session, broadcast)


async def test_the_report_counts_what_happened_per_language(
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_telegram: FakeTelegramAPI,
    fake_twilio: FakeTwilioAPI,
) -> None:
    on_telegram = add_people(engine, settings, 4, languages=("nl", "en"))
    on_whatsapp = add_people(engine, settings, 2, channel="whatsapp", languages=("nl",))
    fake_telegram.block(on_telegram[1].address)  # en: blocked the bot
    broadcast_id = new_broadcast(engine, settings)
    now = utcnow()
    run_broadcast_job(engine, settings, now)
    await drain(engine, settings, channels, now)
    # one WhatsApp message is delivered; one Dutch person answers, another says STOP
    with session_scope(engine) as session:
        outbox.record_status(session, "whatsapp", fake_twilio.sent[0].sid, "delivered", None)
    reply = Inbound(
        channel="telegram",
        address=on_telegram[0].address,
        provider_message_id="r1",
        text="Dank je",
        button=None,
        media_type=None,
        media_ref=None,
        received_at=utcnow(),
    )
    assert inbox.receive(engine, settings, reply)
    with session_scope(engine) as session:
        contact = session.get(Contact, on_whatsapp[1].contact_id)
        assert contact is not None
        contact.broadcasts_opted_out_at = now + timedelta(minutes=5)

    found = figures(engine, broadcast_id)

    assert found["nl"] == report.Figures(targeted=4, sent=4, delivered=1, opted_out=1, replied=1)
    assert found["en"] == report.Figures(targeted=2, sent=1, failed=1)
    assert found["all"].targeted == 6 and found["all"].sent == 5
    with session_scope(engine) as session:
        broadcast = session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        rows = report.as_csv(session, broadcast).splitlines()
    assert rows[0] == (
        "broadcast,language,targeted,sent,delivered,waiting,failed,cancelled,opted_out,replied"
    )
    assert rows[1] == f"{broadcast_id},nl,4,4,1,0,0,0,1,1"


async def test_cancel_stops_what_is_not_sent_yet(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    add_people(engine, settings, 250, languages=("nl",))
    broadcast_id = new_broadcast(engine, settings)
    now = utcnow()
    run_broadcast_job(engine, settings, now)
    await outbox.send_due(engine, settings, now=now, channels=channels)  # one batch goes out
    sent = len(fake_telegram.sent)

    with session_scope(engine) as session:
        stopped = cancel(session, broadcast_id, staff_id=None, now=now)
    await drain(engine, settings, channels, now)

    assert 0 < sent < 250
    assert len(fake_telegram.sent) == sent
    assert stopped == 250 - sent
    found = figures(engine, broadcast_id)["nl"]
    assert (found.targeted, found.sent, found.cancelled) == (250, sent, 250 - sent)


async def test_a_scheduled_broadcast_waits_for_its_time(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    add_people(engine, settings, 2, languages=("nl",))
    at = utcnow() + timedelta(hours=2)
    new_broadcast(engine, settings, at=at)

    run_broadcast_job(engine, settings, utcnow())
    await drain(engine, settings, channels, utcnow())
    assert fake_telegram.sent == []

    run_broadcast_job(engine, settings, at)
    await drain(engine, settings, channels, at)
    assert len(fake_telegram.sent) == 2


async def test_in_opening_hours_waits_for_the_helpline_to_open(
    engine: Engine, settings: Settings
) -> None:
    from datetime import UTC, datetime

    from bot.hours import OpeningHours

    hours = OpeningHours.from_settings(settings)
    saturday_night = datetime(2099, 1, 3, 22, 0, tzinfo=UTC)

    with session_scope(engine) as session:
        broadcast, _ = create(
            session,
            settings,
            staff_id=None,
            texts=TEXTS,
            audience=Audience(),
            at=saturday_night,
            in_opening_hours=True,
        )

    assert not hours.is_open(saturday_night)
    assert broadcast.scheduled_at == hours.next_opening(saturday_night)
    assert broadcast.scheduled_at.date().isoformat() == "2099-01-05"  # the Monday


async def test_their_broadcasts_are_in_their_export_and_erased_with_them(
    engine: Engine, settings: Settings
) -> None:
    [person] = add_people(engine, settings, 1, languages=("en",))
    broadcast_id = new_broadcast(engine, settings)
    run_broadcast_job(engine, settings, utcnow())

    with session_scope(engine) as session:
        exported = export_contact(session, settings, person.contact_id)
        erase_contact(session, person.contact_id)
    with session_scope(engine) as session:
        left = session.exec(select(BroadcastRecipient)).all()
        messages = session.exec(select(Message).where(col(Message.direction) == "out")).all()

    assert [(b["broadcast"], b["language"], b["text"]) for b in exported["broadcasts"]] == [
        (broadcast_id, "en", TEXTS["en"])
    ]
    assert left == [] and messages == []
    assert figures(engine, broadcast_id)["en"].targeted == 0
