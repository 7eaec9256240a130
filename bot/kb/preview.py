"""How a topic's answer reaches a person on WhatsApp and on Telegram, before it is sent.

The preview runs the bot's own ``faq`` flow (``flows/faq.yaml``) on a knowledge base
in which the topic is replaced by the text being edited: its answer with the
organisation's details filled in, then "did this help?" with its buttons, and what
follows "no" (the related topics offered). Only what the flow *says* runs; its actions
on the database (``record_feedback``...) are left out. Each message is then shaped as
the channel shapes it: WhatsApp turns buttons into numbered lines
(``with_numbered_buttons``), Telegram puts them under the message (``keyboard``);
the length is measured against the channel's limit (``max_text``), beyond which the
outbox splits the text into several messages (``split_text``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from bot.channels.telegram import TelegramChannel, keyboard
from bot.channels.whatsapp import WhatsAppChannel, with_numbered_buttons
from bot.config import Settings
from bot.dialogue.engine import FlowEngine, Run, Turn, _cached_flows
from bot.dialogue.flows import Instruction
from bot.hours import OpeningHours
from bot.messages import Button, Outbound
from bot.models import Contact, Conversation, Direction, Message, utcnow
from bot.nlu import Match
from bot.nlu.knowledge import KnowledgeBase
from bot.outbox import split_text

__all__ = ["CHANNELS", "ChannelMessage", "Preview", "preview"]

# What the preview runs of the flow: set_topic only chooses the related topics offered.
SAYING_ACTIONS = frozenset({"set_topic"})
PREVIEW = "preview"  # the channel of the preview's make-believe person
CHANNELS = {"whatsapp": WhatsAppChannel, "telegram": TelegramChannel}


@dataclass(frozen=True)
class ChannelMessage:
    """One message as the person sees it on one channel."""

    text: str  # WhatsApp: with the numbered options
    buttons: tuple[str, ...]  # Telegram: the buttons under the text
    length: int
    limit: int
    parts: int  # how many messages the outbox sends it as

    @property
    def too_long(self) -> bool:
        return self.length > self.limit


@dataclass(frozen=True)
class Preview:
    """One language's answer on one channel: the answer, then after "did this help? no"."""

    channel: str
    limit: int
    answered: tuple[ChannelMessage, ...]
    not_helped: tuple[ChannelMessage, ...]

    @property
    def too_long(self) -> bool:
        return any(m.too_long for m in (*self.answered, *self.not_helped))


class _NoMatcher:
    """The preview asks the matcher nothing: it knows the topic."""

    def match(self, text: str, lang: str | None = None) -> Match:
        raise RuntimeError("the preview does not match text")


class _PreviewRun(Run):
    """A turn that collects what it would send instead of queuing it."""

    def __init__(self, engine: FlowEngine, session: Session, lang: str, topic_id: str) -> None:
        now = utcnow()
        # Never added to the session: a person who does not exist, past the first contact.
        contact = Contact(
            channel=PREVIEW,
            address_hash="",
            address_enc="",
            language=lang,
            language_chosen=True,
            consent_at=now,
            flow_data={},
        )
        conversation = Conversation(contact_id=0, channel=PREVIEW, language=lang)
        super().__init__(engine, session, conversation, contact, Turn(), now)
        self.topic = topic_id
        self.sent: list[Outbound] = []

    def send(self, text: str, buttons: list[Button]) -> Message:
        self.sent.append(Outbound(address="", text=text, buttons=list(buttons)))
        return Message(
            conversation_id=0,
            channel=PREVIEW,
            direction=Direction.outbound,
            sender="bot",
            text=text,
        )

    def say_only(self, instructions: tuple[Instruction, ...]) -> list[Outbound]:
        start = len(self.sent)
        flow = self.flows.by_event("faq")
        kept = tuple(i for i in instructions if "do" not in i or i["do"] in SAYING_ACTIONS)
        self.execute(flow, [i for i in kept if "wait" not in i])
        return self.sent[start:]


def _shaped(kind: str, outbound: Outbound) -> ChannelMessage:
    channel = CHANNELS[kind]
    limit = channel.max_text
    parts = split_text(outbound.text, limit)
    if kind == "whatsapp":
        # Buttons become numbered lines (under the last part, when the text is split).
        text = with_numbered_buttons(outbound.text, outbound.buttons)
        return ChannelMessage(text, (), len(text), limit, len(split_text(text, limit)))
    markup = keyboard(outbound)
    titles: tuple[str, ...] = ()
    if markup is not None:
        titles = tuple(str(button.text) for row in markup.inline_keyboard for button in row)
    return ChannelMessage(outbound.text, titles, len(outbound.text), limit, len(parts))


def preview(
    session: Session, settings: Settings, knowledge: KnowledgeBase, topic_id: str, lang: str
) -> dict[str, Preview]:
    """``topic_id``'s answer in ``lang`` (from ``knowledge``) per channel kind."""
    engine = FlowEngine(
        settings,
        _cached_flows(settings.flows_dir),
        knowledge,
        _NoMatcher(),
        OpeningHours.from_settings(settings),
    )
    run = _PreviewRun(engine, session, lang, topic_id)
    faq = run.flows.by_event("faq")
    answered = run.say_only(faq.steps["start"].run)
    not_helped: list[Outbound] = []
    if knowledge.topics[topic_id].kind != "faq":
        # Another kind (urgent, meta) is not followed by "did this help?": its answer only.
        answered = answered[:1]
    else:
        for step in faq.steps.values():
            if "helped.no" in step.on:
                not_helped = run.say_only(step.on["helped.no"])
    result: dict[str, Any] = {}
    for kind, channel in CHANNELS.items():
        result[kind] = Preview(
            kind,
            channel.max_text,
            tuple(_shaped(kind, m) for m in answered),
            tuple(_shaped(kind, m) for m in not_helped),
        )
    return result
