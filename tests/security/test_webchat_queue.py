"""Anonymous /try chats and the staff queue.

Anyone can open /try and write "help, he has a knife": an urgent conversation at the
top of the real queue, ahead of people on WhatsApp and Telegram. So web chat
conversations wear a label in the queue, and ``HELPLINE_WEBCHAT_QUEUE`` says where
they go: ``below`` (the default) after every real channel's conversation, urgent or
not; ``normal`` like any other; ``hidden`` never into the queue (the bot still
answers, emergency numbers first). The one queue order (``bot.handoff``) serves the
queue page, "take the next", and the "people waiting before you" the bot tells.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot import inbox
from bot.app import create_app
from bot.channels.webchat import routes as webchat
from bot.config import Settings
from bot.dialogue.engine import FlowEngine
from bot.i18n import strip_isolates
from bot.models import Conversation, Message, Owner
from tests.support.flows import MONDAY_MORNING, SAMPLES, Chat
from tests.support.staff import Staff, make_staff


class Helpline:
    """The app as deployed with one ``webchat_queue``: the /try page, WhatsApp, staff,
    on a Monday morning (staff at work) that moves on a minute with each message."""

    def __init__(
        self, settings: Settings, engine: Engine, flows: FlowEngine, clock: pytest.MonkeyPatch
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.flows = FlowEngine(settings, flows.flows, flows.knowledge, flows.matcher, flows.hours)
        self.app: FastAPI = create_app(settings, engine)
        self.visitor = TestClient(self.app)
        self.whatsapp = Chat(engine, settings, self.flows, "whatsapp", "whatsapp:+32470222333")
        self.staff: Staff = make_staff(engine, self.app, "alice@example.org").login()
        self.now = MONDAY_MORNING
        clock.setattr(webchat, "utcnow", lambda: self.now)

    def visitor_says(self, text: str | None = None, button: str | None = None) -> list[str]:
        """An anonymous visitor writes or presses on /try; the worker answers; what the
        page shows of the bot's answers."""
        if "helpline_try" not in self.visitor.cookies:
            assert self.visitor.get("/try").status_code == 200
        self.now = max(self.now, self.whatsapp.now) + timedelta(minutes=1)
        said = self.visitor.post(
            "/try/messages", json={"id": uuid.uuid4().hex, "text": text, "button": button}
        )
        assert said.status_code == 202
        later = self.now + timedelta(seconds=10)
        inbox.process_due(self.engine, self.settings, now=later, flows=self.flows)
        with Session(self.engine) as session:  # the replies are shown once sent
            for message in session.exec(select(Message).where(Message.direction == "out")):
                message.status = "sent"
                session.add(message)
            session.commit()
        shown = self.visitor.get("/try/messages").json()["messages"]
        return [strip_isolates(m["text"]) for m in shown if m["side"] == "bot"]

    def conversation(self, channel: str) -> Conversation:
        with Session(self.engine) as session:
            return session.exec(
                select(Conversation)
                .where(Conversation.channel == channel)
                .order_by(col(Conversation.id).desc())
            ).one()

    def queue_rows(self, locale: str = "en") -> list[str]:
        """The waiting table's rows, top first, as the staff member sees them in ``locale``."""
        assert self.staff.post("/console/locale", {"locale": locale}).status_code == 303
        page = self.staff.client.get("/console/queue")
        assert page.status_code == 200
        waiting = (
            page.text.split('id="waiting"', 1)[1].split("</table>", 1)[0]
            if ('id="waiting"' in page.text)
            else ""
        )
        return re.findall(r'<tr class="conversation.*?</tr>', waiting, re.S)

    def close(self) -> None:
        self.visitor.close()
        self.staff.client.close()


@pytest.fixture
def helpline(
    settings: Settings,
    engine: Engine,
    flows: FlowEngine,
    placement: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Helpline]:
    deployed = settings.model_copy(update={"webchat_queue": placement, "run_worker": False})
    running = Helpline(deployed, engine, flows, monkeypatch)
    yield running
    running.close()


def a_real_person_asks_for_staff(helpline: Helpline) -> str:
    """Someone on WhatsApp asks for a person; what the bot tells them about the wait."""
    helpline.whatsapp.now = helpline.now + timedelta(minutes=1)
    helpline.whatsapp.consent("en")
    told = helpline.whatsapp.send(SAMPLES["en"]["human"])
    return told[-1].text


@pytest.mark.parametrize("placement", ["below"])
def test_web_chat_conversations_wear_a_label_in_the_queue(helpline: Helpline) -> None:
    helpline.visitor_says(SAMPLES["en"]["human"])  # the privacy notice first
    helpline.visitor_says(button="consent.yes")  # then the question is answered: a person
    assert helpline.conversation("webchat").owner == Owner.queue
    a_real_person_asks_for_staff(helpline)

    web_id, real_id = (helpline.conversation(c).id for c in ("webchat", "whatsapp"))

    for locale, label in (("en", "Web chat"), ("nl", "Webchat"), ("fr", "Chat web")):
        rows = {
            int(re.findall(r'data-conversation="(\d+)"', row)[0]): row
            for row in helpline.queue_rows(locale)
        }
        assert set(rows) == {web_id, real_id}
        badge = re.search(
            r'<span class="badge webchat-badge" title="([^"]+)">([^<]+)</span>', rows[web_id]
        )
        assert badge is not None and badge.group(2) == label, rows[web_id]
        assert "webchat-badge" not in rows[real_id]


@pytest.mark.parametrize("placement", ["below"])
def test_by_default_an_urgent_web_chat_waits_below_every_real_channel(
    helpline: Helpline,
) -> None:
    assert helpline.settings.webchat_queue == Settings(env="test").webchat_queue == "below"
    answered = helpline.visitor_says(SAMPLES["en"]["urgent"])
    assert "112" in answered[0]  # emergency numbers first, as ever
    web = helpline.conversation("webchat")
    assert (web.owner, web.urgent) == (Owner.queue, True)

    told = a_real_person_asks_for_staff(helpline)

    assert "0 people are waiting before you" in told  # the web chat is not ahead of them
    rows = helpline.queue_rows()
    assert ["whatsapp" in row for row in rows] == [True, False]
    assert 'class="conversation urgent"' in rows[1]  # urgent, and still below
    taken = helpline.staff.post("/console/queue/next")
    assert (
        taken.headers["location"]
        == f"/console/conversations/{helpline.conversation('whatsapp').id}"
    )


@pytest.mark.parametrize("placement", ["normal"])
def test_with_normal_an_urgent_web_chat_goes_first_like_any_urgent_conversation(
    helpline: Helpline,
) -> None:
    helpline.visitor_says(SAMPLES["en"]["urgent"])

    told = a_real_person_asks_for_staff(helpline)

    assert "1 person is waiting before you" in told
    rows = helpline.queue_rows()
    assert ["whatsapp" in row for row in rows] == [False, True]
    taken = helpline.staff.post("/console/queue/next")
    assert (
        taken.headers["location"] == f"/console/conversations/{helpline.conversation('webchat').id}"
    )


@pytest.mark.parametrize("placement", ["hidden"])
def test_hidden_web_chats_never_enter_the_queue_but_still_get_the_emergency_numbers(
    helpline: Helpline,
) -> None:
    answered = helpline.visitor_says(SAMPLES["en"]["urgent"])

    assert "112" in answered[0]
    assert not any("will answer you here" in text for text in answered)  # nobody will
    assert any("no person of the Infolijn answers here" in text for text in answered)
    assert helpline.conversation("webchat").owner == Owner.bot
    assert helpline.queue_rows() == []
    assert helpline.staff.post("/console/queue/next").status_code == 409

    told = a_real_person_asks_for_staff(helpline)
    assert "0 people are waiting before you" in told
    assert len(helpline.queue_rows()) == 1
