"""The channel contract: a new channel is one module and one registry line.

A channel that exists only in the tests (``tests/support/fakes/signal_channel.py``) goes
through the webhook, the inbox, the flows, the outbox and the staff console without
any change to core code.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import channels, inbox, outbox
from bot.app import create_app
from bot.config import Settings
from bot.dialogue.engine import get_flow_engine
from bot.models import ContactRecord, Conversation, Owner, utcnow
from tests.support.fakes import signal_channel
from tests.support.staff import make_staff

pytestmark = pytest.mark.db


@pytest.fixture
def signal(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[list[object]]:
    monkeypatch.setitem(channels.REGISTRY, "signal", "tests.support.fakes.signal_channel")
    settings.run_worker = False
    signal_channel.SENT.clear()
    yield signal_channel.SENT  # type: ignore[misc]
    signal_channel.SENT.clear()


async def run_jobs(engine: Engine, settings: Settings) -> None:
    later = utcnow() + timedelta(seconds=settings.debounce_seconds + 1)
    inbox.process_due(engine, settings, now=later, flows=get_flow_engine(settings))
    configured = channels.build_channels(settings)
    try:
        while await outbox.send_due(engine, settings, now=later, channels=configured):
            pass
    finally:
        await configured.aclose()


async def test_a_registered_channel_reaches_the_bot_the_queue_and_staff(
    signal: list[object], settings: Settings, engine: Engine
) -> None:
    app = create_app(settings, engine)
    with TestClient(app) as web:
        response = web.post("/webhooks/signal", content=b"+3247000111:Help, my husband hits me")
        assert response.status_code == 200
        await run_jobs(engine, settings)

        sent = signal_channel.SENT
        assert sent and all(o.address == "+3247000111" for o in sent)
        assert "112" in "".join(o.text for o in sent)  # the emergency answer, at once
        assert all(len(o.text) <= signal_channel.SignalChannel.max_text for o in sent)
        with Session(engine) as session:
            conversation = session.exec(select(Conversation)).one()
            assert (conversation.channel, conversation.owner) == ("signal", Owner.queue)
            assert conversation.urgent
            record = session.exec(select(ContactRecord)).one()
            assert (record.channel, record.urgent) == ("signal", True)

        staff = make_staff(engine, app, "sam@example.org").login()
        assert f"/console/conversations/{conversation.id}" in staff.get("/console/queue").text
        assert staff.post(f"/console/conversations/{conversation.id}/claim").status_code == 303
        reply = staff.post(
            f"/console/conversations/{conversation.id}/reply",
            {"text": "I am here with you. Are you safe right now?"},
        )
        assert reply.status_code == 303
        sent.clear()
        await run_jobs(engine, settings)
        assert " ".join(o.text for o in sent) == "I am here with you. Are you safe right now?"
        assert len(sent) == 2  # split at the transport's 40 characters


def test_a_deployment_without_telegram_never_imports_python_telegram_bot(
    settings: Settings,
) -> None:
    script = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from bot.app import create_app\n"
        "from bot.config import Settings\n"
        f"settings = Settings(env='test', database_url={settings.database_url!r},"
        " run_worker=False)\n"
        "with TestClient(create_app(settings)) as client:\n"
        "    assert client.get('/healthz').status_code == 200\n"
        "    assert client.post('/webhooks/telegram', content=b'{}').status_code == 403\n"
        "print(sorted(m for m in sys.modules if m == 'telegram' or m.startswith('telegram.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
