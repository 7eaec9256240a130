"""People answered at once get the answers each would get alone, in their order.

On PostgreSQL the inbox answers several people at the same time (``ANSWER_THREADS``);
on SQLite one after the other. Either way, each person's turns are answered in the
order they wrote them, and nobody's answers mix with someone else's.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from bot import inbox
from bot.config import Settings
from bot.dialogue.engine import FlowEngine
from tests.support.flows import SAMPLES, Chat

LANGUAGES = ["nl", "fr", "en", "uk", "ps", "fa"]


def transcript(chat: Chat) -> list[tuple[str, list[str]]]:
    return [(reply.text, reply.payloads) for reply in chat.replies()]


def test_people_answered_together_get_what_each_would_get_alone(
    engine: Engine, settings: Settings, flows: FlowEngine
) -> None:
    # Each turn of a first contact: a question, the language, the privacy answer.
    turns = [
        lambda chat, lang: chat.arrive(SAMPLES[lang]["question"]),
        lambda chat, lang: chat.arrive(button=f"lang:{lang}"),
        lambda chat, lang: chat.arrive(button="consent.yes"),
        lambda chat, lang: chat.arrive(SAMPLES[lang]["thanks"]),
    ]
    alone = {lang: Chat(engine, settings, flows, address=f"alone-{lang}") for lang in LANGUAGES}
    together = [
        (Chat(engine, settings, flows, address=f"together-{n}"), LANGUAGES[n % len(LANGUAGES)])
        for n in range(3 * len(LANGUAGES))
    ]
    expected: dict[str, list[list[tuple[str, list[str]]]]] = {lang: [] for lang in LANGUAGES}
    for turn in turns:
        for lang, chat in alone.items():
            turn(chat, lang)
            expected[lang].append([(r.text, r.payloads) for r in chat.process()])

    got: dict[int, list[list[tuple[str, list[str]]]]] = {n: [] for n in range(len(together))}
    now = max(chat.now for chat in alone.values())
    for turn in turns:
        for chat, lang in together:
            chat.now = now
            turn(chat, lang)
        now += timedelta(seconds=settings.debounce_seconds + 1)
        handled = inbox.process_due(engine, settings, now=now, flows=flows)
        assert handled == len(together)
        for n, (chat, _) in enumerate(together):
            got[n].append(transcript(chat))

    for n, (_, lang) in enumerate(together):
        assert got[n] == expected[lang]
        assert all(got[n])  # every turn was answered


def test_a_person_s_quick_fragments_among_many_people_are_one_turn_in_their_order(
    engine: Engine, settings: Settings, flows: FlowEngine
) -> None:
    fragments = ["hello", SAMPLES["en"]["question"], SAMPLES["en"]["thanks"]]
    alone = Chat(engine, settings, flows, address="alone")
    alone.consent("en")
    for words in fragments:
        alone.arrive(words, after=0.1)
    expected = [(r.text, r.payloads) for r in alone.process()]
    people = [Chat(engine, settings, flows, address=f"person-{n}") for n in range(8)]
    for chat in people:
        chat.consent("en")
    now = max(chat.now for chat in people)
    for words in fragments:  # the people's fragments interleaved, as they arrive
        now += timedelta(seconds=0.1)
        for chat in people:
            chat.now = now
            chat.arrive(words, after=0)

    inbox.process_due(
        engine, settings, now=now + timedelta(seconds=settings.debounce_seconds + 1), flows=flows
    )

    assert expected
    for chat in people:
        assert transcript(chat) == expected
