"""Per topic: answered by the bot, "did this help?", handoffs after it (page and CSV)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from bot.stats.topics import TopicFigures, topic_figures
from tests.support.flows import SAMPLES, Chat
from tests.support.staff import Staff

NOVEMBER = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def ask_and_say_no_then_ask_for_a_person(chat: Chat) -> None:
    chat.consent("nl")
    chat.send(SAMPLES["nl"]["question"])
    chat.press("helped.no")
    chat.press("human")


def test_an_answer_that_did_not_help_and_the_handoff_after_it_are_counted(
    chat: Chat, engine: Engine
) -> None:
    ask_and_say_no_then_ask_for_a_person(chat)
    other = Chat(engine, chat.settings, chat.flows, address="person-2")
    other.consent("en")
    other.send(SAMPLES["en"]["question"])
    other.press("helped.yes")

    with Session(engine) as session:
        figures = topic_figures(session, *NOVEMBER)
        december = topic_figures(session, NOVEMBER[1], datetime(2027, 1, 1, tzinfo=UTC))

    assert figures == [TopicFigures("asylum.apply", 2, 1, 1, 1)]
    assert figures[0].helped_rate == 0.5
    assert december == []


def test_quick_fragments_answered_together_count_once(chat: Chat, engine: Engine) -> None:
    chat.consent("en")
    chat.arrive(SAMPLES["en"]["question"])
    chat.arrive(SAMPLES["en"]["question"])
    chat.process()

    with Session(engine) as session:
        assert topic_figures(session, *NOVEMBER) == [TopicFigures("asylum.apply", 1)]


def test_the_page_and_its_csv_show_the_figures(chat: Chat, alice: Staff) -> None:
    ask_and_say_no_then_ask_for_a_person(chat)

    page = alice.get("/console/stats?month=2026-11")
    assert page.status_code == 200
    assert 'id="answers-by-topic"' in page.text
    assert '<tr data-topic="asylum.apply">' in page.text
    assert '<td class="helped-rate">0%</td>' in page.text

    export = alice.get("/console/stats/topics.csv?month=2026-11")
    assert export.status_code == 200
    assert export.headers["content-disposition"].endswith('helpline-topics-2026-11.csv"')
    assert export.text.splitlines() == [
        "topic,answered,helped_yes,helped_no,helped_rate,handoffs_after",
        "asylum.apply,1,0,1,0.000,1",
    ]
