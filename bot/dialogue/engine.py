"""The flow engine: runs the conversations written as data in ``flows/*.yaml``.

One engine for every channel. It sees a ``Turn`` (what the person just wrote,
pressed or sent) and the contact's state (language, consent, position in a flow,
all stored on ``Contact`` so that a restart changes nothing), decides which flow
answers, and runs that flow's instructions: say things (through the outbox),
give curated answers from the knowledge base, and act (hand over to staff, erase).
``flows/README.md`` describes the file format.

Routing, in order: urgent (always first: no language choice, no consent needed) >
a pressed button (or its number, title, "yes"/"no" typed: ``turns``) > a command
(``/delete``) > a phrase ("delete my data") > a whole message a flow knows ("human",
"English please") > a topic of an ``interrupts`` flow (a person, another language) >
the waiting step's ``otherwise`` > media > the matcher's topic. So a person, another
language, "delete my data" and emergency numbers are reachable at every step. Flows
that need it (``needs_consent``, the default) first go through ``first_contact``,
which keeps what the person wrote and answers it once the language and consent are
settled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot import outbox
from bot.config import LANGUAGES, Settings
from bot.dialogue.actions import ACTIONS, CONDITIONS, other_topics
from bot.dialogue.flows import (
    MAX_INSTRUCTIONS,
    Flow,
    FlowError,
    Flows,
    Instruction,
    Step,
    lines_of,
    load_flows,
    step_ref,
)
from bot.handoff import HandoffResult, returning_staff
from bot.hours import OpeningHours
from bot.i18n import LANGUAGE_NAMES, Speaker, answer_details, answer_text, isolate, speaker
from bot.kb import live
from bot.messages import Button
from bot.models import Contact, Conversation, Message, Owner
from bot.nlu import Match, Matcher, backend
from bot.nlu.knowledge import KnowledgeBase
from bot.nlu.text import normalize
from bot.ops.observability import MATCHES

LANGUAGE_CONFIDENCE = 0.75  # below this, ask the person which language they write
# A thank-you after a close is answered by the bot: it does not reopen the conversation
# for the staff member who helped.
COURTESY_TOPICS = frozenset({"meta.thanks"})


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
        run = Run(self, session, conversation, contact, turn, now)
        run.start()
        session.add(contact)
        session.add(conversation)
        return run.match

    def speaker(self, lang: str) -> Speaker:
        return speaker(self.settings.locales_dir, lang)


def get_flow_engine(settings: Settings, matcher: Matcher | None = None) -> FlowEngine:
    """The engine for these settings, with the knowledge base the bot says now and the
    matcher trained on it (``bot.kb.live``), both of one snapshot: the worker takes one
    per batch, so a publish applies from the next batch on."""
    snapshot = live.current(settings, matcher=matcher is None)
    if matcher is None:
        assert snapshot.matcher is not None
        matcher = backend(settings, snapshot.matcher)
    return FlowEngine(
        settings,
        _cached_flows(settings.flows_dir),
        snapshot.knowledge,
        matcher,
        OpeningHours.from_settings(settings),
    )


@lru_cache(maxsize=8)
def _cached_flows(path: Path) -> Flows:
    return load_flows(path)


class Run:
    """One turn: the routing decision and the instructions it runs."""

    contact: Contact
    conversation: Conversation
    payload: str | None

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
        self.named_language: str | None = None  # "English please": the language named
        self.waited_at: tuple[str | None, str | None] = (contact.flow, contact.flow_step)
        self.kept = False  # what the person wrote is kept (once per turn)
        self._returning: tuple[int | None] | None = None

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
            self._count_unanswered(reset=True)
            self._pressed(position, flow_id)
            return
        if self.text:
            chosen = self._chosen_by_text(self.text)
            if chosen is None and position is not None and position.waits:
                chosen = self._interrupting(self.match)
            if chosen:
                self._count_unanswered(reset=True)
                self.begin(chosen)
                return
        if position is not None and position.otherwise is not None:
            self._count_unanswered()
            self._clear_position()
            self.execute(self.flows.flows[flow_id], position.otherwise)
            return
        self._count_unanswered(reset=True)
        if not self.text:
            if self.turn.media_type:
                self.begin(self.flows.by_event("media"))
            return
        assert self.match is not None
        self._adopt_detected_language(self.match)
        self.route(self.match)

    def _chosen_by_text(self, text: str) -> Flow | None:
        """A command, a phrase, or a whole message a flow knows (per line of ``text``)."""
        chosen = self.flows.for_command(text) or self.flows.for_phrase(normalize(text))
        if chosen is not None:
            return chosen
        for line in text.split("\n"):
            found = self.flows.for_message(normalize(line))
            if found:
                return self._named(found)
        return None

    def _named(self, found: list[tuple[Flow, str]]) -> Flow:
        """The flow of a known message; its language is the person's if they have none
        yet ("medewerker": Dutch), the detected one when the words are in several."""
        detected = self.match.detected_lang if self.match else None
        flow, lang = next(((f, lang) for f, lang in found if lang == detected), found[0])
        self.named_language = lang
        if self.contact.language is None and lang in LANGUAGES:
            self._set_language(lang, chosen=False)
        return flow

    def _interrupting(self, match: Match | None) -> Flow | None:
        """While a step waits for an answer, the flows marked ``interrupts`` still start
        on their topic (a request for a person, for another language)."""
        flow = self.flows.for_topic(match.topic) if match and match.topic else None
        if flow is None or not flow.interrupts:
            return None
        assert match is not None
        self._adopt_detected_language(match)
        self.topic = match.topic
        return flow

    def _count_unanswered(self, *, reset: bool = False) -> None:
        """How many replies in a row answered none of a waiting step's buttons."""
        data = dict(self.contact.flow_data or {})
        if reset and "unanswered" not in data:
            return
        if reset:
            data.pop("unanswered")
        else:
            data["unanswered"] = int(data.get("unanswered", 0)) + 1
        self.contact.flow_data = data

    @property
    def unanswered(self) -> int:
        return int((self.contact.flow_data or {}).get("unanswered", 0))

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

    def returning_staff(self) -> int | None:
        """The staff member this person goes back to (``HELPLINE_RETURN_TO_STAFF_HOURS``
        after they closed the person's last conversation), while the bot has it."""
        if self._returning is None:
            found = None
            if self.conversation.owner == Owner.bot:
                within = timedelta(hours=self.engine.settings.return_to_staff_hours)
                found = returning_staff(
                    self.session, self.conversation, within=within, now=self.now
                )
            self._returning = (found,)
        return self._returning[0]

    def route(self, match: Match) -> None:
        """A text message that is not a command: by its topic (or, for a person who
        writes again soon after a staff member closed their conversation, to them)."""
        self.match = match
        if match.at_risk:
            ACTIONS["prioritise"](self)
        returns = match.topic not in COURTESY_TOPICS and self.flows.has_event("returning")
        if returns and self.returning_staff() is not None:
            self.begin(self.flows.by_event("returning"))
            return
        if match.staff_only and self.flows.has_event("staff_only"):
            self.begin(self.flows.by_event("staff_only"))
            return
        topic = match.topic
        flow = self.flows.for_topic(topic) if topic else None
        if topic and (flow is not None or self._kind(topic) == "faq"):
            self.topic = topic
        if flow is None and topic and self._kind(topic) == "faq":
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
                text = self.say(instruction["say"])
                if text:
                    self.send(text, self.buttons(instruction.get("buttons")))
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
                target_flow, step = step_ref(flow.id, instruction["go"])
                next_flow = self.flows.flows[target_flow]
                self.execute(next_flow, next_flow.steps[step].run)
                return
            elif "wait" in instruction:
                self.contact.flow, self.contact.flow_step = step_ref(flow.id, instruction["wait"])

    @property
    def speaker(self) -> Speaker:
        return self.engine.speaker(self.lang)

    def say(self, say: Any) -> str:
        """One message from a ``say``: its lines translated and filled in, one per line.

        A line that needs a detail that is not configured (``{org_phone}``) is left out,
        never sent with a raw placeholder; so is a line whose ``when`` is false.
        """
        speaker = self.speaker
        values = {**self.values, **self.details()}
        lines = []
        for line in lines_of(say):
            if isinstance(line, Mapping) and "text" in line:
                if line.get("when") and not CONDITIONS[line["when"]](self):
                    continue
                line = line["text"]
            try:
                lines.append(speaker.say(line, **values))
            except KeyError:  # a detail the organisation did not configure
                continue
        return "\n".join(lines)

    def details(self) -> dict[str, str]:
        """What answers and texts fill in by name in this person's language: the
        organisation's configured details and the opening hours."""
        return answer_details(self.engine.settings, self.engine.hours, self.lang)

    def answer_of(self, topic: str) -> str:
        """The topic whose answer to give: for an emergency, the answer for its kind
        (``urgent.self_harm``) when the knowledge base has one."""
        kind = self.match.urgent_kind if self.match is not None else None
        specialised = f"{topic}.{kind}"
        if topic == "urgent" and kind and specialised in self.engine.knowledge.topics:
            return specialised
        return topic

    def answer(self, ref: str, fallback: str | None) -> None:
        topic = self.topic if ref == "$topic" else ref
        if topic and topic in self.engine.knowledge.topics:
            answer = self.engine.knowledge.answer(self.answer_of(topic), self.lang).answer
            text = answer_text(self.engine.settings, self.engine.hours, answer, self.lang)
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
            elif item in ("candidates", "others"):
                topics = self._candidates() if item == "candidates" else other_topics(self)
                buttons += [
                    Button(f"topic:{topic}", isolate(self._title(topic), self.lang))
                    for topic in topics
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
        # The bot's own figure: ``first_response_at`` is the first staff message's.
        self.conversation.bot_first_response_at = (
            self.conversation.bot_first_response_at or self.now
        )
        return message

    # -- state kept between turns --

    def keep_pending(self) -> None:
        """Remember what the person asked, to answer it after the first-contact questions."""
        if self.kept:
            return
        self.kept = True
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
