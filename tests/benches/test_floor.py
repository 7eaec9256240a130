"""``bench/floor.py`` runs its steps on the real code and reports its figures (never timings
asserted: only that every step ran and what it stored and sent)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bench import floor
from bot.config import Settings
from bot.models import Direction, Message, MessageStatus
from tests.support.fakes.twilio_api import FakeTwilioAPI


def test_the_floor_times_every_step_of_a_few_messages_and_prints_json_last(
    engine: Engine,
    settings: Settings,
    fake_twilio: FakeTwilioAPI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_twilio.configure(settings)
    settings.run_worker = False

    result = floor.measure(engine, settings, n=3, warmup=1)

    assert set(result["steps"]) == set(floor.STEPS)
    assert result["messages"] == 3
    for key in ("floor_messages_per_s", "sum_cpu_ms", "sum_wall_ms", "store_today_cpu_ms"):
        assert result[key] > 0
    assert len(fake_twilio.sent) == 4  # one reply per message, warm-up included
    with Session(engine) as session:
        inbound = session.exec(select(Message).where(Message.direction == Direction.inbound)).all()
        outbound = session.exec(select(Message).where(Message.direction == Direction.outbound))
        assert not outbound.all()  # the flow's reply row is rolled back: the status write stands
    floor_messages = [m for m in inbound if not (m.provider_message_id or "").startswith("today-")]
    assert len(floor_messages) == 4
    assert {m.status for m in floor_messages} == {MessageStatus.handled}
    assert len(inbound) == 8  # and today's inbox.receive stored its own person's message

    floor.print_result({"database": "sqlite", **result})
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["floor_messages_per_s"] == result["floor_messages_per_s"]
