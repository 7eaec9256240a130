"""Fuzzing the whole inbound pipeline: any text a person sends is stored, and the real
flows and matcher answer it (or stay silent) without an error."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import inbox
from bot.config import Settings
from bot.dialogue.engine import get_flow_engine
from bot.messages import Inbound
from bot.models import Direction, Message, MessageStatus, utcnow
from tests.fuzz.strategies import FUZZ, any_text, tricky_text

_ids = itertools.count()


@FUZZ
@given(
    texts=st.lists(any_text, min_size=1, max_size=3),
    button=st.none() | tricky_text,
    channel=st.sampled_from(["whatsapp", "telegram", "webchat"]),
)
def test_any_message_is_stored_and_handled_by_the_real_flows(
    engine: Engine, settings: Settings, texts: list[str], button: str | None, channel: str
) -> None:
    flows = get_flow_engine(settings)
    address = f"fuzz-{next(_ids)}"
    now = utcnow()
    for text in texts:
        inbound = Inbound(channel, address, f"fuzz-{next(_ids)}", text, button, None, None, now)
        assert inbox.receive(engine, settings, inbound)

    inbox.process_due(engine, settings, now=now.replace(year=now.year + 1), flows=flows)

    with Session(engine) as session:
        waiting = session.exec(
            select(Message.id).where(
                Message.direction == Direction.inbound, Message.status == MessageStatus.received
            )
        ).all()
    assert waiting == []
