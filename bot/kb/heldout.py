"""Did the examples staff added help? The matcher scored on them, held out.

``helpline eval --staff-examples`` and the learning inbox's "measure" train a matcher
on the published knowledge base (``knowledge/`` when nothing is published) **without**
the examples staff added from the inbox (``store.staff_examples``), and score those
examples with it, as ``helpline eval`` scores a labelled file: the figure says how
well the bot answers such messages from what it knew before. Beside it, the matcher
of the knowledge base as published (with them) on the same examples: it should
answer them now (it learned them). Training takes seconds (tens on a busy machine),
so the console measures on request, and the bot's own matcher stands for the
published one (``measure``'s ``current``) instead of a second training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from bot.config import Settings
from bot.kb import store
from bot.models import KbStaffExample, utcnow
from bot.nlu.evaluation import Item, MatchLike, Scores, run, score_by_language
from bot.nlu.knowledge import KnowledgeBase, get_knowledge


class MatcherLike(Protocol):
    def match(self, text: str) -> MatchLike: ...


@dataclass(frozen=True)
class Measured:
    """The scores on the staff examples, by language then ``"all"``."""

    held_out: dict[str, Scores]  # trained without them
    published: dict[str, Scores]  # the bot's matcher now (trained with them once published)
    version: int  # the published version measured (0: knowledge/)
    at: datetime = field(default_factory=utcnow)


def _clean(text: str) -> str:
    return " ".join(text.split())


def items(examples: Iterable[KbStaffExample]) -> list[Item]:
    """The staff examples as evaluation items (each text once)."""
    seen: dict[tuple[str, str], Item] = {}
    for example in examples:
        key = (_clean(example.text), example.language)
        seen.setdefault(key, Item(key[0], example.topic_id, example.language))
    return list(seen.values())


def without(knowledge: KnowledgeBase, held_out: Iterable[Item]) -> KnowledgeBase:
    """``knowledge`` without the held-out examples (each in its topic and language)."""
    drop = {(i.topic, i.lang, i.text) for i in held_out}
    topics = {}
    for topic_id, topic in knowledge.topics.items():
        answers = {
            lang: dataclasses.replace(
                answer,
                examples=tuple(
                    e for e in answer.examples if (topic_id, lang, _clean(e)) not in drop
                ),
            )
            for lang, answer in topic.answers.items()
        }
        topics[topic_id] = dataclasses.replace(topic, answers=answers)
    return KnowledgeBase(topics=topics, path=knowledge.path)


def current_knowledge(session: Session, settings: Settings) -> tuple[KnowledgeBase, int]:
    """The published knowledge base and its version, or ``knowledge/`` and 0."""
    published = store.published(session)
    if published is not None:
        return published.knowledge(), published.version
    return get_knowledge(settings), 0


def measure(session: Session, settings: Settings, current: MatcherLike) -> Measured | None:
    """Score the staff examples with a matcher trained without them, and with
    ``current`` (the bot's matcher); None when there are none. Trains once: run it on
    request, not on every page."""
    from bot.nlu.matcher import Matcher

    held = items(store.staff_examples(session))
    if not held:
        return None
    knowledge, version = current_knowledge(session, settings)
    before = Matcher.train(without(knowledge, held))
    return Measured(
        held_out=score_by_language(run(before.match, held)),
        published=score_by_language(run(current.match, held)),
        version=version,
    )
