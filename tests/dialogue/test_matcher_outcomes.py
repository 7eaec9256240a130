"""What a person receives for the matcher's outcomes beside a topic, through the real
inbox, flows and the real matcher: only staff can answer, at risk, the kind of an
emergency. Sentences written for these tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from bot.config import LANGUAGES, Settings
from bot.dialogue.engine import FlowEngine
from bot.dialogue.flows import load_flows
from bot.hours import OpeningHours
from bot.i18n import answer_text, speaker, strip_isolates
from bot.models import Owner
from bot.nlu import get_matcher
from bot.nlu.knowledge import get_knowledge
from tests.nlu.test_outcomes import KINDS, PERSONAL, SLEEPING_OUTSIDE
from tests.support.flows import Chat

HONEST = (
    "I cannot see your file or anyone's personal situation, so I cannot answer this myself."
    " I am passing your message to a staff member."
)


@pytest.fixture
def real_chat(engine: Engine, settings: Settings) -> Iterator[Chat]:
    flows = FlowEngine(
        settings,
        load_flows(settings.flows_dir),
        get_knowledge(settings),
        get_matcher(settings),
        OpeningHours.from_settings(settings),
    )
    yield Chat(engine, settings, flows)


def answer(settings: Settings, topic: str, lang: str) -> str:
    text = get_knowledge(settings).answer(topic, lang).answer
    return answer_text(settings, OpeningHours.from_settings(settings), text, lang).strip()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_question_about_one_persons_file_gets_an_honest_line_and_goes_to_staff(
    real_chat: Chat, lang: str
) -> None:
    real_chat.consent(lang)

    replies = real_chat.send(PERSONAL[lang][0])

    honest = strip_isolates(speaker(real_chat.settings.locales_dir, lang).gettext(HONEST))
    assert replies[0].text == honest
    assert all(reply.language == lang for reply in replies)
    conversation = real_chat.conversation()
    assert conversation.owner == Owner.queue
    assert conversation.handoff_reason == "staff_only"
    assert not conversation.urgent
    assert conversation.topic is None  # no general answer was given


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_adult_with_nowhere_to_sleep_gets_the_reception_answer_and_staff_priority(
    real_chat: Chat, lang: str
) -> None:
    real_chat.consent(lang)

    replies = real_chat.send(SLEEPING_OUTSIDE[lang])

    conversation = real_chat.conversation()
    assert conversation.topic is not None
    assert conversation.topic.startswith("reception.no_place")
    assert replies[0].text == answer(real_chat.settings, conversation.topic, lang)
    assert conversation.priority
    assert not conversation.urgent


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_kind_of_emergency_gets_its_specialised_answer(
    real_chat: Chat, kind: str, lang: str
) -> None:
    replies = real_chat.send(KINDS[kind][lang])

    assert replies[1].text == answer(real_chat.settings, f"urgent.{kind}", lang)
    conversation = real_chat.conversation()
    assert conversation.urgent
    assert conversation.owner == Owner.queue
