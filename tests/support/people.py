"""People writing to the helpline the way they really do: over the real webhooks.

A ``Person`` writes, chooses a button and sends a voice note on WhatsApp (a form
signed with twilio's ``RequestValidator``, buttons chosen by typing their number, as
WhatsApp shows them), on Telegram (updates with the webhook's secret header, buttons
pressed as callback queries) or on the ``/try`` page (its HTTP API, with its own
cookie). ``Helpline.run`` is the worker: the inbox answers what is due and the outbox
sends it through python-telegram-bot and twilio to the fake providers. ``heard``
returns what the person received since they last looked, as they see it: the text
(without the right-to-left isolates) and the buttons' titles.
"""

from __future__ import annotations

import copy
import itertools
import re
import uuid
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot import inbox, outbox
from bot.channels import build_channels
from bot.config import Settings
from bot.dialogue.engine import FlowEngine, load_flows
from bot.hours import OpeningHours
from bot.i18n import strip_isolates
from bot.models import utcnow
from bot.nlu import Match
from bot.nlu.knowledge import get_knowledge
from bot.nlu.language import detect_language
from tests.support.channels import fixture, post_telegram, post_whatsapp
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI

CHANNELS = ("whatsapp", "telegram", "webchat")
ALWAYS_OPEN = OpeningHours(
    ((time(0, 0), time.max),), frozenset(range(7)), ZoneInfo("Europe/Brussels")
)
_ids = itertools.count(700_000_001)
_NUMBERED = re.compile(r"^(\d+) (.*)$")


class KnownSentences:
    """A matcher that knows the test's own sentences (``{text: topic}``) and nothing
    else, so that the tests test the conversations, not the matcher's accuracy.
    Anything else gets no topic, the language the real detector finds, and three
    likely topics."""

    def __init__(self, known: dict[str, str | None], languages: dict[str, str]) -> None:
        self.known = known
        self.languages = languages  # {text: lang}

    def match(self, text: str, lang: str | None = None) -> Match:
        lines = [line for line in text.split("\n") if line in self.known]
        if lines:
            topic, detected, confidence = self.known[lines[-1]], self.languages[lines[-1]], 0.95
        else:
            guess = detect_language(text)
            topic, detected, confidence = None, guess.lang, guess.confidence
        candidates = (
            ("asylum.apply", "reception.no_place", "health.medical_care") if topic is None else ()
        )
        if topic == "asylum.apply":  # what the matcher would find next to it
            candidates = ("asylum.apply", "asylum.procedure", "asylum.documents")
        return Match(
            topic=topic,
            score=0.9 if topic else 0.1,
            lang=lang or detected,
            detected_lang=detected,
            lang_confidence=confidence,
            urgent=topic == "urgent",
            candidates=candidates,
        )


@dataclass
class Heard:
    text: str
    titles: list[str]


@dataclass
class Helpline:
    """The service as the tests drive it: its web app and its worker's two jobs."""

    app: FastAPI
    client: TestClient
    engine: Engine
    settings: Settings
    flows: FlowEngine
    telegram: FakeTelegramAPI
    twilio: FakeTwilioAPI
    clients: list[TestClient] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        app: FastAPI,
        client: TestClient,
        engine: Engine,
        settings: Settings,
        matcher: KnownSentences,
        telegram: FakeTelegramAPI,
        twilio: FakeTwilioAPI,
    ) -> Helpline:
        flows = FlowEngine(
            settings, load_flows(settings.flows_dir), get_knowledge(settings), matcher, ALWAYS_OPEN
        )
        return cls(app, client, engine, settings, flows, telegram, twilio)

    async def run(self) -> None:
        """The worker: answer what is due, then send until the outbox is empty."""
        later = utcnow() + timedelta(seconds=self.settings.debounce_seconds + 1)
        inbox.process_due(self.engine, self.settings, now=later, flows=self.flows)
        channels = build_channels(self.settings)
        try:
            while await outbox.send_due(self.engine, self.settings, now=later, channels=channels):
                pass
        finally:
            await channels.aclose()

    def person(self, channel: str) -> Person:
        client = self.client
        if channel == "webchat":  # each visitor of /try is a browser with its own cookie
            client = TestClient(self.app)
            client.get("/try")
            self.clients.append(client)
        return Person(self, channel, next(_ids), client)

    def close(self) -> None:
        for client in self.clients:
            client.close()


@dataclass
class Person:
    helpline: Helpline
    channel: str
    number: int
    client: TestClient
    seen: int = 0
    after: int = 0  # /try: the last message id shown
    last_buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, payload)

    @property
    def whatsapp_address(self) -> str:
        return f"whatsapp:+32{self.number}"

    async def write(self, text: str) -> list[Heard]:
        self._send(text=text)
        return await self.heard()

    async def choose(self, title: str) -> list[Heard]:
        """Choose a button of the last message that had some, as the channel lets one:
        tap it (Telegram, /try) or type its number (WhatsApp)."""
        titles = [t for t, _ in self.last_buttons]
        assert title in titles, f"no button {title!r} in {titles}"
        position = titles.index(title)
        if self.channel == "whatsapp":
            self._send(text=str(position + 1))
        else:
            self._send(button=self.last_buttons[position][1])
        return await self.heard()

    async def send_media(self, kind: str) -> list[Heard]:
        """A voice note ("voice") or a photo ("photo"), where the channel has them."""
        if self.channel == "whatsapp":
            form = dict(fixture("whatsapp", "voice" if kind == "voice" else "image"))
            form.update(From=self.whatsapp_address, Body="")  # no caption: only the media
            form["MessageSid"] = form["SmsMessageSid"] = form["SmsSid"] = f"MM{next(_ids):032d}"
            response = post_whatsapp(self.client, self.helpline.settings, form)
        else:
            assert self.channel == "telegram", "the /try page sends no media"
            update = copy.deepcopy(fixture("telegram", kind))
            update["update_id"] = next(_ids)
            update["message"]["message_id"] = next(_ids)
            update["message"]["chat"]["id"] = update["message"]["from"]["id"] = self.number
            update["message"].pop("caption", None)  # only the media
            response = post_telegram(self.client, update)
        assert response.status_code == 200, response.text
        return await self.heard()

    def _send(self, *, text: str | None = None, button: str | None = None) -> None:
        if self.channel == "whatsapp":
            form = dict(fixture("whatsapp", "text"), From=self.whatsapp_address, Body=text or "")
            form["MessageSid"] = form["SmsMessageSid"] = form["SmsSid"] = f"SM{next(_ids):032d}"
            response = post_whatsapp(self.client, self.helpline.settings, form)
            assert response.status_code == 200, response.text
        elif self.channel == "telegram":
            if button is None:
                update = copy.deepcopy(fixture("telegram", "text"))
                message = update["message"]
                message["text"] = text
                message["from"]["id"] = self.number
            else:
                update = copy.deepcopy(fixture("telegram", "callback_query"))
                update["callback_query"]["id"] = f"cb{next(_ids)}"
                update["callback_query"]["data"] = button
                update["callback_query"]["from"]["id"] = self.number
                message = update["callback_query"]["message"]
            update["update_id"] = next(_ids)
            message["message_id"] = next(_ids)
            message["chat"]["id"] = self.number
            response = post_telegram(self.client, update)
            assert response.status_code == 200, response.text
        else:
            body: dict[str, Any] = {"id": uuid.uuid4().hex, "text": text, "button": button}
            response = self.client.post("/try/messages", json=body)
            assert response.status_code == 202, response.text

    async def heard(self) -> list[Heard]:
        """What the person received since they last looked (after the worker ran)."""
        await self.helpline.run()
        if self.channel == "whatsapp":
            new = [
                _from_whatsapp(m.body or "")
                for m in self.helpline.twilio.sent_to(self.whatsapp_address)[self.seen :]
            ]
            buttons = [[(t, "") for t in h.titles] for h in new]
        elif self.channel == "telegram":
            sent = self.helpline.telegram.sent_to(self.number)[self.seen :]
            new, buttons = [], []
            for m in sent:
                rows = (m.reply_markup or {}).get("inline_keyboard", [])
                pairs = [(strip_isolates(b["text"]), b["callback_data"]) for r in rows for b in r]
                new.append(Heard(strip_isolates(m.text), [t for t, _ in pairs]))
                buttons.append(pairs)
        else:
            # By id, as the page polls: an erasure deletes what was shown before.
            shown = self.client.get("/try/messages", params={"after": self.after}).json()
            bot = [m for m in shown["messages"] if m["side"] == "bot"]
            self.after = max([self.after, *(m["id"] for m in shown["messages"])])
            new = [
                Heard(strip_isolates(m["text"]), [strip_isolates(b["title"]) for b in m["buttons"]])
                for m in bot
            ]
            buttons = [
                [(strip_isolates(b["title"]), b["payload"]) for b in m["buttons"]] for m in bot
            ]
        self.seen += len(new)
        with_buttons = [pairs for pairs in buttons if pairs]
        if with_buttons:
            self.last_buttons = with_buttons[-1]
        return new


def _from_whatsapp(body: str) -> Heard:
    """A WhatsApp body: the text, then the buttons as numbered lines after a blank line."""
    text, _, options = body.rpartition("\n\n")
    lines = options.split("\n")
    if text and all(_NUMBERED.match(line) for line in lines):
        titles = [strip_isolates(_NUMBERED.match(line).group(2)) for line in lines]  # type: ignore[union-attr]
        return Heard(strip_isolates(text), titles)
    return Heard(strip_isolates(body), [])
