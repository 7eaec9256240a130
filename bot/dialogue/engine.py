"""The flow engine: runs the conversations written as data in ``flows/*.yaml``.

One engine for every channel. It sees a ``Turn`` (what the person just wrote,
pressed or sent) and the contact's state (language, consent, position in a flow,
all stored on ``Contact`` so that a restart changes nothing), decides which flow
answers, and runs that flow's instructions: say things (through the outbox),
give curated answers from the knowledge base, and act (hand over to staff, erase).
``flows/README.md`` describes the file format.

Routing, in order: urgent (always first: no language choice, no consent needed) >
a pressed button > a command (``/delete``) > a phrase ("delete my data") > the
waiting step's ``otherwise`` > media > the matcher's topic. Flows that need it
(``needs_consent``, the default) first go through ``first_contact``, which keeps
what the person wrote and answers it once the language and consent are settled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from bot import outbox
from bot.config import LANGUAGES, Settings
from bot.handoff import HandoffResult, request_handoff
from bot.hours import OpeningHours
from bot.i18n import LANGUAGE_NAMES, Speaker, isolate, speaker
from bot.messages import Button
from bot.models import Contact, ContactRecord, Conversation, Message, Owner
from bot.nlu import Match, Matcher, get_matcher
from bot.nlu.knowledge import KnowledgeBase, get_knowledge
from bot.nlu.text import normalize
from bot.ops.observability import MATCHES
from bot.stats import records as stats

LANGUAGE_CONFIDENCE = 0.75  # below this, ask the person which language they write
MAX_INSTRUCTIONS = 200  # per turn: a loop of "go"s in a flow file stops here
INSTRUCTION_KEYS = frozenset({"say", "say_in_every_language", "answer", "do", "go", "wait"})
ERASED = "erased"  # Conversation.outcome of an erased conversation waiting to be deleted


class FlowError(Exception):
    """A flow file is invalid, or a flow ran into a loop."""


# --- flows as data ------------------------------------------------------------------

Instruction = Mapping[str, Any]


@dataclass(frozen=True)
class Step:
    run: tuple[Instruction, ...] = ()
    on: Mapping[str, tuple[Instruction, ...]] = field(default_factory=dict)
    otherwise: tuple[Instruction, ...] | None = None

    @property
    def waits(self) -> bool:
        return bool(self.on) or self.otherwise is not None


@dataclass(frozen=True)
class Flow:
    id: str
    steps: Mapping[str, Step]
    event: str | None = None
    buttons: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    phrases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    needs_consent: bool = True

    def starts_on_button(self, payload: str) -> bool:
        return any(
            payload == pattern or (pattern.endswith("*") and payload.startswith(pattern[:-1]))
            for pattern in self.buttons
        )


@dataclass(frozen=True)
class Flows:
    flows: Mapping[str, Flow]

    def step(self, flow_id: str | None, name: str | None) -> Step | None:
        flow = self.flows.get(flow_id or "")
        return flow.steps.get(name or "") if flow else None

    def by_event(self, event: str) -> Flow:
        return next(f for f in self.flows.values() if f.event == event)

    def for_button(self, payload: str) -> Flow | None:
        return next((f for f in self.flows.values() if f.starts_on_button(payload)), None)

    def for_command(self, text: str) -> Flow | None:
        command = text.split()[0].lower() if text.startswith("/") else ""
        command = command.split("@")[0]  # Telegram groups: /delete@HelplineBot
        return next((f for f in self.flows.values() if command in f.commands), None)

    def for_phrase(self, normalized: str) -> Flow | None:
        padded = f" {normalized} "
        for flow in self.flows.values():
            for phrases in flow.phrases.values():
                if any(f" {phrase} " in padded for phrase in phrases):
                    return flow
        return None

    def for_topic(self, topic: str) -> Flow | None:
        return next((f for f in self.flows.values() if topic in f.topics), None)

    def answer_for_stale_button(self, payload: str) -> tuple[Flow, tuple[Instruction, ...]] | None:
        """A button of an older message: what it does in the step that showed it."""
        for flow in self.flows.values():
            for step in flow.steps.values():
                if payload in step.on:
                    return flow, step.on[payload]
        return None


REQUIRED_EVENTS = ("first_contact", "urgent", "media", "faq", "abstain")


def load_flows(path: Path) -> Flows:
    """Read and check every ``*.yaml`` in ``path``; raises ``FlowError`` listing the problems."""
    flows: dict[str, Flow] = {}
    errors: list[str] = []
    for file in sorted(Path(path).glob("*.yaml")):
        try:
            flow = _parse_flow(yaml.safe_load(file.read_text(encoding="utf-8")), file.stem)
        except (yaml.YAMLError, FlowError, TypeError, KeyError, AttributeError) as exc:
            errors.append(f"{file.name}: {exc}")
            continue
        flows[flow.id] = flow
    loaded = Flows(flows)
    errors += _check(loaded)
    if errors:
        raise FlowError("invalid flows:\n" + "\n".join(errors))
    return loaded


def _parse_flow(raw: Mapping[str, Any], stem: str) -> Flow:
    if raw.get("id") != stem:
        raise FlowError(f"id must be the file name, {stem!r}")
    starts_on = raw.get("starts_on") or {}
    unknown = set(raw) - {"id", "starts_on", "needs_consent", "steps"}
    unknown |= set(starts_on) - {"event", "buttons", "commands", "phrases", "topics"}
    if unknown:
        raise FlowError(f"unknown keys {sorted(unknown)}")
    steps = {name: _parse_step(body, name) for name, body in (raw.get("steps") or {}).items()}
    if "start" not in steps:
        raise FlowError("a flow needs a 'start' step")
    phrases = {
        lang: tuple(normalize(p) for p in items)
        for lang, items in (starts_on.get("phrases") or {}).items()
    }
    event = starts_on.get("event")
    return Flow(
        id=stem,
        steps=steps,
        event=event,
        buttons=tuple(starts_on.get("buttons") or ()),
        commands=tuple(c.lower() for c in starts_on.get("commands") or ()),
        phrases=phrases,
        topics=tuple(starts_on.get("topics") or ()),
        needs_consent=bool(raw.get("needs_consent", True)),
    )


def _parse_step(body: Any, name: str) -> Step:
    if isinstance(body, list):
        return Step(run=tuple(body))
    if isinstance(body, dict):  # YAML 1.1 reads a bare `on:` key as True
        body = {"on" if key is True else key: value for key, value in body.items()}
    if not isinstance(body, dict) or set(body) - {"on", "otherwise"}:
        raise FlowError(f"step {name!r}: a list of instructions, or 'on'/'otherwise'")
    otherwise = body.get("otherwise")
    return Step(
        on={str(k): tuple(v) for k, v in (body.get("on") or {}).items()},
        otherwise=tuple(otherwise) if otherwise is not None else None,
    )


def _check(flows: Flows) -> list[str]:
    errors = [f"no flow starts on event {e!r}" for e in REQUIRED_EVENTS if not _has_event(flows, e)]
    for flow in flows.flows.values():
        for name, step in flow.steps.items():
            lists = [step.run, *step.on.values(), step.otherwise or ()]
            for instruction in (i for items in lists for i in items):
                problem = _check_instruction(flows, flow, instruction)
                if problem:
                    errors.append(f"{flow.id}.{name}: {problem}")
    return errors


def _has_event(flows: Flows, event: str) -> bool:
    return any(f.event == event for f in flows.flows.values())


def _check_instruction(flows: Flows, flow: Flow, instruction: Any) -> str | None:
    if not isinstance(instruction, dict):
        return f"not an instruction: {instruction!r}"
    kinds = INSTRUCTION_KEYS & set(instruction)
    if len(kinds) != 1:
        return f"one of {sorted(INSTRUCTION_KEYS)} per instruction: {instruction!r}"
    kind = next(iter(kinds))
    condition = instruction.get("when")
    if condition is not None and condition not in CONDITIONS:
        return f"unknown condition {condition!r}"
    if kind == "do" and instruction["do"] not in ACTIONS:
        return f"unknown action {instruction['do']!r}"
    if kind in ("go", "wait"):
        target_flow, target = _target(flow.id, instruction[kind])
        step = flows.step(target_flow, target)
        if step is None:
            return f"no step {instruction[kind]!r}"
        if kind == "wait" and not step.waits:
            return f"waits in {target!r}, which has no 'on' or 'otherwise'"
    return None


def _target(flow_id: str, ref: str) -> tuple[str, str]:
    target_flow, _, step = ref.rpartition(".")
    return target_flow or flow_id, step


# --- running ------------------------------------------------------------------------


@dataclass
class Turn:
    """What the person did: text (fragments joined), a pressed button, or media."""

    text: str | None = None
    button: str | None = None
    media_type: str | None = None


class FlowEngine:
    def __init__(
        self,
        settings: Settings,
        flows: Flows,
        knowledge: KnowledgeBase,
        matcher: Matcher,
        hours: OpeningHours,
    ) -> None:
        self.settings = settings
        self.flows = flows
        self.knowledge = knowledge
        self.matcher = matcher
        self.hours = hours

    def handle(
        self,
        session: Session,
        conversation: Conversation,
        contact: Contact,
        turn: Turn,
        *,
        now: datetime,
    ) -> Match | None:
        """Answer one turn of a bot-owned conversation; returns the match of its text."""
        run = _Run(self, session, conversation, contact, turn, now)
        run.start()
        session.add(contact)
        session.add(conversation)
        stats.sync_record(session, conversation)
        return run.match

    def speaker(self, lang: str) -> Speaker:
        assert self.settings.locales_dir is not None
        return speaker(self.settings.locales_dir, lang)


def get_flow_engine(settings: Settings, matcher: Matcher | None = None) -> FlowEngine:
    """The engine for these settings, with the real knowledge base and matcher."""
    assert settings.flows_dir is not None
    return FlowEngine(
        settings,
        _cached_flows(settings.flows_dir),
        get_knowledge(settings),
        matcher or get_matcher(settings),
        OpeningHours.from_settings(settings),
    )


@lru_cache(maxsize=8)
def _cached_flows(path: Path) -> Flows:
    return load_flows(path)


class _Run:
    """One turn: the routing decision and the instructions it runs."""

    def __init__(
        self,
        engine: FlowEngine,
        session: Session,
        conversation: Conversation,
        contact: Contact,
        turn: Turn,
        now: datetime,
    ) -> None:
        self.engine = engine
        self.session = session
        self.conversation = conversation
        self.contact = contact
        self.turn = turn
        self.now = now
        self.text = (turn.text or "").strip()
        self.payload = turn.button
        self.match: Match | None = None
        self.topic: str | None = None
        self.handoff: HandoffResult | None = None
        self.values: dict[str, Any] = {
            "days": engine.settings.retention_days,
            "emergency": engine.settings.emergency_numbers,
        }
        self.budget = MAX_INSTRUCTIONS

    # -- routing --

    @property
    def flows(self) -> Flows:
        return self.engine.flows

    @property
    def lang(self) -> str:
        if self.contact.language:
            return self.contact.language
        return self.match.detected_lang if self.match else "en"

    def start(self) -> None:
        if self.text:
            self.match = self.engine.matcher.match(self.text, lang=self.contact.language)
            MATCHES.labels(
                "urgent" if self.match.urgent else "answered" if self.match.topic else "abstained"
            ).inc()
            if self.match.urgent:
                self._adopt_detected_language(self.match, force=self.contact.language is None)
                self.begin(self.flows.by_event("urgent"))
                return
        position = self.flows.step(self.contact.flow, self.contact.flow_step)
        flow_id = self.contact.flow or ""
        if self.payload:
            self._pressed(position, flow_id)
            return
        if self.text:
            chosen = self.flows.for_command(self.text) or self.flows.for_phrase(
                normalize(self.text)
            )
            if chosen:
                self.begin(chosen)
                return
        if position is not None and position.otherwise is not None:
            self._clear_position()
            self.execute(self.flows.flows[flow_id], position.otherwise)
            return
        if not self.text:
            if self.turn.media_type:
                self.begin(self.flows.by_event("media"))
            return
        assert self.match is not None
        self._adopt_detected_language(self.match)
        self.route(self.match)

    def _pressed(self, position: Step | None, flow_id: str) -> None:
        assert self.payload is not None
        if position is not None and self.payload in position.on:
            self._clear_position()
            self.execute(self.flows.flows[flow_id], position.on[self.payload])
            return
        flow = self.flows.for_button(self.payload)
        if flow is not None:
            self.begin(flow)
            return
        stale = self.flows.answer_for_stale_button(self.payload)
        if stale is not None:
            self._clear_position()
            self.execute(*stale)

    def route(self, match: Match) -> None:
        """A text message that is not a command: by its topic."""
        self.match = match
        topic = match.topic
        flow = self.flows.for_topic(topic) if topic else None
        if flow is None and topic and self._kind(topic) == "faq":
            self.topic = topic
            flow = self.flows.by_event("faq")
        self.begin(flow or self.flows.by_event("abstain"))

    def begin(self, flow: Flow) -> None:
        if flow.needs_consent and not (self.contact.language and self.contact.consent_at):
            self.keep_pending()
            flow = self.flows.by_event("first_contact")
        self._clear_position()
        self.execute(flow, flow.steps["start"].run)

    def _kind(self, topic: str) -> str | None:
        found = self.engine.knowledge.topics.get(topic)
        return found.kind if found else None

    def _adopt_detected_language(self, match: Match, *, force: bool = False) -> None:
        """Take the detected language when sure (or when there is nothing else)."""
        confident = match.lang_confidence >= LANGUAGE_CONFIDENCE
        if self.contact.language_chosen or match.detected_lang not in LANGUAGES:
            return
        if force or (confident and match.detected_lang != self.contact.language):
            self._set_language(match.detected_lang, chosen=False)
            if match.lang != match.detected_lang:
                self.match = self.engine.matcher.match(self.text, lang=match.detected_lang)

    def _set_language(self, lang: str, *, chosen: bool) -> None:
        self.contact.language = lang
        self.contact.language_chosen = chosen
        self.conversation.language = lang

    def _clear_position(self) -> None:
        self.contact.flow = None
        self.contact.flow_step = None

    # -- instructions --

    def execute(self, flow: Flow, instructions: Sequence[Instruction]) -> None:
        for instruction in instructions:
            self.budget -= 1
            if self.budget < 0:
                raise FlowError(f"flow {flow.id} runs in a loop")
            condition = instruction.get("when")
            if condition and not CONDITIONS[condition](self):
                continue
            if "say" in instruction:
                self.send(
                    self.speaker.say(instruction["say"], **self.values),
                    self.buttons(instruction.get("buttons")),
                )
            elif "say_in_every_language" in instruction:
                lines = [
                    self.engine.speaker(lang).gettext(instruction["say_in_every_language"])
                    for lang in LANGUAGES
                ]
                self.send("\n".join(lines), self.buttons(instruction.get("buttons")))
            elif "answer" in instruction:
                self.answer(instruction["answer"], instruction.get("fallback"))
            elif "do" in instruction:
                ACTIONS[instruction["do"]](self, **(instruction.get("with") or {}))
            elif "go" in instruction:
                target_flow, step = _target(flow.id, instruction["go"])
                next_flow = self.flows.flows[target_flow]
                self.execute(next_flow, next_flow.steps[step].run)
                return
            elif "wait" in instruction:
                self.contact.flow, self.contact.flow_step = _target(flow.id, instruction["wait"])

    @property
    def speaker(self) -> Speaker:
        return self.engine.speaker(self.lang)

    def answer(self, ref: str, fallback: str | None) -> None:
        topic = self.topic if ref == "$topic" else ref
        if topic and topic in self.engine.knowledge.topics:
            text = self.engine.knowledge.answer(topic, self.lang).answer
            message = self.send(isolate(text, self.lang), [])
            message.topic = topic
            if self.match is not None and self.match.topic == topic:
                message.score = self.match.score
        elif fallback:
            self.send(self.speaker.gettext(fallback), [])

    def buttons(self, spec: Any) -> list[Button]:
        if spec is None:
            return []
        if isinstance(spec, str):
            spec = [spec]
        buttons: list[Button] = []
        for item in spec:
            if item == "languages":
                buttons += [
                    Button(f"lang:{code}", isolate(name, code))
                    for code, name in LANGUAGE_NAMES.items()
                ]
            elif item == "candidates":
                buttons += [
                    Button(f"topic:{topic}", isolate(self._title(topic), self.lang))
                    for topic in self._candidates()
                ]
            else:
                buttons.append(Button(item["payload"], self.speaker.gettext(item["title"])))
        return buttons

    def _title(self, topic: str) -> str:
        return self.engine.knowledge.answer(topic, self.lang).title

    def _candidates(self) -> list[str]:
        found = self.match.candidates if self.match else ()
        return [t for t in found if self._kind(t) == "faq"][:3]

    def send(self, text: str, buttons: list[Button]) -> Message:
        message = outbox.enqueue(
            self.session,
            self.conversation,
            text,
            sender="bot",
            buttons=buttons or None,
            language=self.lang,
            now=self.now,
            settings=self.engine.settings,
        )
        self.conversation.last_message_at = self.now
        self.conversation.first_response_at = self.conversation.first_response_at or self.now
        return message

    # -- state kept between turns --

    def keep_pending(self) -> None:
        """Remember what the person asked, to answer it after the first-contact questions."""
        data = dict(self.contact.flow_data or {})
        if self.text and not self.text.startswith("/"):
            data["pending"] = "\n".join(filter(None, [data.get("pending"), self.text]))
        elif self.payload:
            data["pending_button"] = self.payload
        self.contact.flow_data = data

    def pop_pending(self) -> tuple[str | None, str | None]:
        data = dict(self.contact.flow_data or {})
        text, button = data.pop("pending", None), data.pop("pending_button", None)
        self.contact.flow_data = data
        return text, button


def _is_language(payload: str | None) -> bool:
    return bool(payload) and str(payload).startswith("lang:")


# --- actions: what a flow can do besides talking -------------------------------------


def _set_language(run: _Run) -> None:
    lang = (run.payload or "").removeprefix("lang:")
    if lang in LANGUAGES:
        run._set_language(lang, chosen=True)


def _give_consent(run: _Run) -> None:
    run.contact.consent_at = run.now


def _keep_pending(run: _Run) -> None:
    run.keep_pending()


def _answer_pending(run: _Run) -> None:
    text, button = run.pop_pending()
    run.text, run.payload = text or "", button
    if button:
        flow = run.flows.for_button(button)
        if flow is not None:
            run.begin(flow)
    elif text:
        chosen = run.flows.for_command(text) or run.flows.for_phrase(normalize(text))
        if chosen is not None:
            run.begin(chosen)
        else:
            run.route(run.engine.matcher.match(text, lang=run.lang))


def _set_topic(run: _Run) -> None:
    if run.payload and run.payload.startswith("topic:"):
        run.topic = run.payload.removeprefix("topic:")
    if run.topic and run.topic not in run.engine.knowledge.topics:
        run.topic = None
    run.conversation.topic = run.conversation.topic or run.topic


def _handoff(run: _Run, *, reason: str, urgent: bool = False) -> None:
    conversation = run.conversation
    if urgent:
        conversation.topic = "urgent"
    run.handoff = request_handoff(
        run.session, conversation, reason=reason, urgent=urgent, hours=run.engine.hours, now=run.now
    )
    run.contact.flow, run.contact.flow_step = None, None
    run.values["waiting"] = _waiting_before(run.session, conversation)
    if run.handoff.next_opening is not None:
        seconds = (run.handoff.next_opening - run.now).total_seconds()
        run.values["hours"] = max(1, math.ceil(seconds / 3600))
        run.values["back"] = run.speaker.when(
            run.handoff.next_opening, run.engine.settings.timezone
        )


def _waiting_before(session: Session, conversation: Conversation) -> int:
    """People ahead in the queue: urgent first, then by waiting time."""
    assert conversation.queued_at is not None
    queued = col(Conversation.owner) == Owner.queue
    earlier = col(Conversation.queued_at) < conversation.queued_at
    if conversation.urgent:
        ahead = queued & col(Conversation.urgent) & earlier
    else:
        ahead = queued & (col(Conversation.urgent) | earlier)
    session.flush()
    count = session.exec(
        select(func.count())
        .select_from(Conversation)
        .where(ahead, Conversation.id != conversation.id)
    ).one()
    return int(count)


def _erase(run: _Run) -> None:
    """Erase the person's data now, but for the goodbye just queued for them.

    That one message needs the channel address until it is sent; the inbox's
    ``delete_erased`` job then erases the contact too (``retention.erase_contact``).
    Anonymous contact records stay, unlinked from the deleted conversations.
    """
    session, contact, kept = run.session, run.contact, run.conversation
    goodbye = session.exec(
        select(Message.id)
        .where(Message.conversation_id == kept.id, Message.sender == "bot")
        .order_by(col(Message.id).desc())
    ).first()
    conversations = session.exec(
        select(Conversation).where(Conversation.contact_id == contact.id)
    ).all()
    for conversation in conversations:
        conversation.owner = Owner.closed
        conversation.closed_at = conversation.closed_at or run.now
        stats.sync_record(session, conversation)
    kept.outcome = ERASED
    others = [c.id for c in conversations if c.id != kept.id]
    session.flush()
    session.exec(
        delete(Message).where(
            col(Message.conversation_id).in_([*others, kept.id]), col(Message.id) != goodbye
        )
    )
    session.exec(
        update(ContactRecord)
        .where(col(ContactRecord.conversation_id).in_(others))
        .values(conversation_id=None)
    )
    session.exec(delete(Conversation).where(col(Conversation.id).in_(others)))
    contact.language, contact.language_chosen, contact.consent_at = None, False, None
    contact.flow = contact.flow_step = None
    contact.flow_data = {}


ACTIONS: dict[str, Callable[..., None]] = {
    "set_language": _set_language,
    "give_consent": _give_consent,
    "keep_pending": _keep_pending,
    "answer_pending": _answer_pending,
    "set_topic": _set_topic,
    "handoff": _handoff,
    "erase": _erase,
}

CONDITIONS: dict[str, Callable[[_Run], bool]] = {
    "no_language": lambda run: run.contact.language is None,
    "has_language": lambda run: run.contact.language is not None,
    "no_consent": lambda run: run.contact.consent_at is None,
    "has_pending": lambda run: bool(
        (run.contact.flow_data or {}).keys() & {"pending", "pending_button"}
    ),
    "no_pending": lambda run: (
        not (run.contact.flow_data or {}).keys() & {"pending", "pending_button"}
    ),
    "language_button": lambda run: _is_language(run.payload),
    "has_candidates": lambda run: bool(run._candidates()),
    "no_candidates": lambda run: not run._candidates(),
    "open_now": lambda run: run.handoff is not None and run.handoff.open_now,
    "first_closed_notice": lambda run: run.handoff is not None and run.handoff.notify_after_hours,
    "closed_notice_given": lambda run: (
        run.handoff is not None and not run.handoff.open_now and not run.handoff.notify_after_hours
    ),
}
