"""Conversation flows as data: ``flows/*.yaml`` loaded, parsed and checked.

A flow is a list of steps, each a list of instructions (say, answer, do, go, wait);
``load_flows`` refuses a file that names an unknown action, condition or step, so a
mistake in a flow file stops the service at start, not in a person's conversation.
``flows/README.md`` describes the format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.dialogue.actions import ACTIONS, CONDITIONS
from bot.nlu.organisation import ANSWER_PLACEHOLDERS
from bot.nlu.organisation import placeholders as text_placeholders
from bot.nlu.text import normalize

MAX_INSTRUCTIONS = 200  # per turn: a loop of "go"s in a flow file stops here
INSTRUCTION_KEYS = frozenset({"say", "say_in_every_language", "answer", "do", "go", "wait"})
# What a flow's texts may name in braces (filled in by the engine; see flows/README.md).
PLACEHOLDERS = frozenset({"days", "emergency", "back", "hours", "waiting", *ANSWER_PLACEHOLDERS})

# Words that may stand around a flow's ``messages`` ("English please", "en français
# svp", "ik wil een medewerker", "په پښتو"): politeness, articles, prepositions, "I
# want", "talk to". Normalised like the messages (``bot.nlu.text.normalize``).
FILLER_WORDS = frozenset(
    normalize(
        # en
        "please pls plz thanks in the a an to with i me we want need would like can could"
        " speak talk write chat language "
        # nl
        "aub alstublieft alsjeblieft graag in het de een met ik wil wil kan mag spreken"
        " praten schrijven taal op "
        # fr
        "svp stp s il vous plait plais merci en le la un une avec je veux voudrais peux"
        " parler ecrire langue a "
        # uk (and the Russian many Ukrainians write)
        "будь ласка пожалуйста мовою мова з зі із я хочу можна можу говорити поговорити"
        " писати на по "
        # ps
        "په مهرباني وکړئ ژبه زه غواړم له سره خبرې وکړم یو "
        # fa
        "به لطفا لطفاً زبان من می خواهم میخواهم با یک صحبت کنم"
    ).split()
)


class FlowError(Exception):
    """A flow file is invalid, or a flow ran into a loop."""


# --- flows as data ------------------------------------------------------------------

Instruction = Mapping[str, Any]


# What a person asks for that is done whoever holds the conversation (bot, queue, staff).
HEARD_WHOEVER_HOLDS = frozenset({"erase", "stop_broadcasts"})


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
    messages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    needs_consent: bool = True
    interrupts: bool = False

    @property
    def heard_whoever_holds(self) -> bool:
        """The person starts it (a button, a command, a phrase, a whole message) and it
        erases their data ("delete my data", /delete) or stops broadcasts to them ("STOP"):
        honoured even while the conversation waits for staff or is with them."""
        started_by_the_person = bool(self.buttons or self.commands or self.phrases or self.messages)
        return started_by_the_person and any(
            instruction.get("do") in HEARD_WHOEVER_HOLDS
            for step in self.steps.values()
            for instructions in (step.run, *step.on.values(), step.otherwise or ())
            for instruction in instructions
        )

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

    def has_event(self, event: str) -> bool:
        return any(f.event == event for f in self.flows.values())

    def for_button(self, payload: str) -> Flow | None:
        """The flow a button starts: one that names it exactly before one with a pattern."""
        exact = next((f for f in self.flows.values() if payload in f.buttons), None)
        return exact or next((f for f in self.flows.values() if f.starts_on_button(payload)), None)

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

    def heard_whoever_holds(
        self, flow_id: str | None, step: str | None, text: str | None, payload: str | None
    ) -> bool:
        """Whether a turn starts, or answers the question of, a flow that erases on
        request or stops broadcasts, for a person standing at ``flow_id.step``: the engine
        would run it, even while staff hold the conversation."""
        if payload:
            position = self.step(flow_id, step)
            if position is not None and payload in position.on:
                return self.flows[flow_id or ""].heard_whoever_holds
            started = self.for_button(payload)
        elif text:
            normalized = normalize(text)
            started = self.for_command(text) or self.for_phrase(normalized)
            if started is None:
                started = next((flow for flow, _ in self.for_message(normalized)), None)
        else:
            return False
        return started is not None and started.heard_whoever_holds

    def for_message(self, normalized: str) -> list[tuple[Flow, str]]:
        """The flows whose ``messages`` are this whole message, but for filler words, each
        with the language the words are in (for a language's name: that language)."""
        said = without_fillers(normalized)
        if not said:
            return []
        return [
            (flow, lang)
            for flow in self.flows.values()
            for lang, messages in flow.messages.items()
            if said in messages
        ]

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
    unknown = set(raw) - {"id", "starts_on", "needs_consent", "interrupts", "steps"}
    unknown |= set(starts_on) - {"event", "buttons", "commands", "phrases", "messages", "topics"}
    if unknown:
        raise FlowError(f"unknown keys {sorted(unknown)}")
    steps = {name: _parse_step(body, name) for name, body in (raw.get("steps") or {}).items()}
    if "start" not in steps:
        raise FlowError("a flow needs a 'start' step")
    phrases = {
        lang: tuple(normalize(p) for p in items)
        for lang, items in (starts_on.get("phrases") or {}).items()
    }
    messages = {
        lang: tuple(without_fillers(normalize(m)) for m in items)
        for lang, items in (starts_on.get("messages") or {}).items()
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
        messages=messages,
        needs_consent=bool(raw.get("needs_consent", True)),
        interrupts=bool(raw.get("interrupts", False)),
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
    for line in lines_of(instruction.get("say")):
        if isinstance(line, Mapping) and "text" in line:
            if line.get("when") is not None and line["when"] not in CONDITIONS:
                return f"unknown condition {line['when']!r}"
            line = line["text"]
        unknown = set(placeholders(line)) - PLACEHOLDERS
        if unknown:
            return f"unknown placeholders {sorted(unknown)} in {line!r}"
    if kind == "do" and instruction["do"] not in ACTIONS:
        return f"unknown action {instruction['do']!r}"
    if kind in ("go", "wait"):
        target_flow, target = step_ref(flow.id, instruction[kind])
        step = flows.step(target_flow, target)
        if step is None:
            return f"no step {instruction[kind]!r}"
        if kind == "wait" and not step.waits:
            return f"waits in {target!r}, which has no 'on' or 'otherwise'"
    return None


def without_fillers(normalized: str) -> str:
    return " ".join(word for word in normalized.split() if word not in FILLER_WORDS)


def lines_of(say: Any) -> list[Any]:
    """A ``say`` as its lines: one message, or a list of lines said as one message."""
    if say is None:
        return []
    return list(say) if isinstance(say, list) else [say]


def placeholders(line: Any) -> Iterator[str]:
    """The names a line fills in (``{org_phone}``), in its singular and plural forms."""
    texts = [line] if isinstance(line, str) else [line.get("one", ""), line.get("other", "")]
    for text in texts:
        yield from text_placeholders(text)


def step_ref(flow_id: str, ref: str) -> tuple[str, str]:
    target_flow, _, step = ref.rpartition(".")
    return target_flow or flow_id, step
