"""Canned answers and closing topics, from the knowledge base.

Staff often answer in a language they do not read, so every canned answer is shown
in the person's language next to the same answer in the staff member's own
language (Dutch, French or English).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.config import Settings
from bot.hours import OpeningHours
from bot.i18n import answer_text, speaker, strip_isolates
from bot.kb import live
from bot.nlu.knowledge import KnowledgeBase, KnowledgeError

log = logging.getLogger(__name__)
REFERENCE_LANGUAGES = ("nl", "fr", "en")
SNIPPETS = Path(__file__).resolve().parent / "snippets.yaml"


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
        return live.knowledge(settings)
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


def topic_titles(kb: KnowledgeBase | None, staff_locale: str) -> dict[str, str]:
    """Every topic's title in the staff member's language, by topic id."""
    if kb is None:
        return {}
    reference = reference_language(staff_locale)
    return {
        topic_id: kb.answer(topic_id, reference).title
        for topic_id, topic in kb.topics.items()
        if topic.answers
    }


@dataclass(frozen=True)
class Snippet:
    """A short text for the reply box: the team's (in the person's language, with the
    staff member's beside it) or the staff member's own (as they wrote it)."""

    key: str
    text: str
    language: str | None
    reference_text: str
    personal: bool = False


@lru_cache(maxsize=1)
def _snippet_file() -> dict[str, Any]:
    with SNIPPETS.open(encoding="utf-8") as fp:
        loaded: dict[str, Any] = yaml.safe_load(fp)
    return loaded


def _say(settings: Settings, message: str, lang: str) -> str:
    # Shown in a form field and typed on by staff: no directional isolates (the
    # outbox does not add them either; the person's phone lays the text out).
    return strip_isolates(speaker(settings.locales_dir, lang).gettext(message))


def team_snippets(settings: Settings, person_lang: str | None, staff_locale: str) -> list[Snippet]:
    lang = person_lang or "en"
    reference = reference_language(staff_locale)
    return [
        Snippet(
            key=f"team:{item['id']}",
            text=_say(settings, item["say"], lang),
            language=lang,
            reference_text=_say(settings, item["say"], reference),
        )
        for item in _snippet_file()["team"]
    ]


def closing_message(settings: Settings, lang: str | None) -> str:
    """What the person receives when staff close with a closing message, in their language."""
    return speaker(settings.locales_dir, lang or "en").gettext(
        _snippet_file()["closing_message"]["say"]
    )
