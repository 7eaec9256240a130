"""Canned answers and closing topics, from the knowledge base.

Staff often answer in a language they do not read, so every canned answer is shown
in the person's language next to the same answer in the staff member's own
language (Dutch, French or English).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.config import Settings
from bot.hours import OpeningHours
from bot.i18n import answer_text
from bot.nlu.knowledge import KnowledgeBase, KnowledgeError, get_knowledge

log = logging.getLogger(__name__)
REFERENCE_LANGUAGES = ("nl", "fr", "en")


@dataclass(frozen=True)
class Canned:
    topic: str
    title: str
    text: str
    language: str  # of ``text``; differs from the person's when it is missing there
    reference_title: str
    reference_text: str
    reference_language: str


def knowledge(settings: Settings) -> KnowledgeBase | None:
    """The knowledge base, or None when it cannot be loaded (the console still works)."""
    try:
        return get_knowledge(settings)
    except (KnowledgeError, OSError) as exc:
        log.warning("knowledge base unavailable for the console: %s", type(exc).__name__)
        return None


def reference_language(staff_locale: str) -> str:
    return staff_locale if staff_locale in REFERENCE_LANGUAGES else "nl"


def _language_of(kb: KnowledgeBase, topic_id: str, lang: str) -> str:
    answers = kb.topics[topic_id].answers
    if lang in answers:
        return lang
    return next(code for code, answer in answers.items() if answer is kb.answer(topic_id, lang))


def canned_answers(
    settings: Settings, kb: KnowledgeBase | None, person_lang: str | None, staff_locale: str
) -> list[Canned]:
    """Every faq answer as the person would read it from the bot (the organisation's
    details filled in), beside the staff member's own language."""
    if kb is None:
        return []
    hours = OpeningHours.from_settings(settings)
    lang = person_lang or "en"
    reference = reference_language(staff_locale)
    answers = []
    for topic_id in sorted(kb.topics):
        topic = kb.topics[topic_id]
        if topic.kind != "faq" or not topic.answers:
            continue
        answer, own = kb.answer(topic_id, lang), kb.answer(topic_id, reference)
        answers.append(
            Canned(
                topic=topic_id,
                title=answer.title,
                text=answer_text(settings, hours, answer.answer, lang),
                language=_language_of(kb, topic_id, lang),
                reference_title=own.title,
                reference_text=answer_text(settings, hours, own.answer, reference),
                reference_language=_language_of(kb, topic_id, reference),
            )
        )
    return sorted(answers, key=lambda canned: canned.reference_title.casefold())


def closing_topics(kb: KnowledgeBase | None, staff_locale: str) -> list[tuple[str, str]]:
    """(topic id, title in the staff member's language), for closing a conversation."""
    if kb is None:
        return []
    reference = reference_language(staff_locale)
    topics = [
        (topic_id, kb.answer(topic_id, reference).title)
        for topic_id, topic in kb.topics.items()
        if topic.answers and topic.kind in ("faq", "urgent")
    ]
    return sorted(topics, key=lambda pair: pair[1].casefold())
