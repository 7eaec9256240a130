"""Each figure counted by its definition (docs/statistics.md), on constructed conversations.

Five conversations opened on the same March morning, each moved by the code that moves
them in production (the flow engine's reply, the handoff, the console's moves):

- ``bot_only``: the bot answers, nobody asks for a person, the idle close ends it;
- ``waiting``: the bot answers, the person asks for a person, nobody took it yet;
- ``taken``: handed off and taken by a staff member who has not written yet;
- ``answered``: the bot answers, handed off, taken, and a staff member writes four
  minutes after the handoff, then closes it as answered;
- ``abandoned``: handed off, taken, closed as ``no_reply`` without a staff message.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from bot import handoff
from bot.cli import app
from bot.config import Settings
from bot.conversations import close_idle
from bot.dialogue.engine import FlowEngine, Turn
from bot.hours import OpeningHours
from bot.models import Contact, Conversation
from bot.stats.exports import RECORD_COLUMNS, records_csv, report_csv
from bot.stats.reports import Period, Report, build_report, report_json
from tests.stats.helpers import BRUSSELS, chat
from tests.stats.test_console import row_cells
from tests.support.factories import add_staff
from tests.support.staff import Staff

MORNING = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Brussels
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Built:
    ids: dict[str, int]


def _bot_replies(
    session: Session, flows: FlowEngine, conversation: Conversation, at: datetime
) -> None:
    contact = session.get(Contact, conversation.contact_id)
    assert contact is not None
    contact.language, contact.language_chosen = conversation.language, True  # keeps to it
    conversation.last_message_at = at
    flows.handle(session, conversation, contact, Turn(text="hello"), now=at)
    session.flush()


@pytest.fixture
def built(engine: Engine, settings: Settings, flows: FlowEngine) -> Built:
    hours = OpeningHours.from_settings(settings)
    ids: dict[str, int] = {}
    with Session(engine) as session:
        staff = add_staff(session, "an@example.org")
        assert staff.id is not None

        def handed_off(name: str, *, channel: str = "telegram", language: str = "ps") -> int:
            conversation = chat(
                session, settings, name, MORNING, channel=channel, language=language
            )
            _bot_replies(session, flows, conversation, MORNING + timedelta(seconds=4))
            handoff.request_handoff(
                session,
                conversation,
                reason="asked",
                urgent=False,
                hours=hours,
                now=MORNING + MINUTE,
            )
            session.flush()
            assert conversation.id is not None
            ids[name] = conversation.id
            return conversation.id

        bot_only = chat(session, settings, "bot_only", MORNING)
        _bot_replies(session, flows, bot_only, MORNING + timedelta(seconds=2))
        assert bot_only.id is not None
        ids["bot_only"] = bot_only.id

        handed_off("waiting")

        taken = handed_off("taken")
        assert handoff.claim(session, taken, staff.id, MORNING + 2 * MINUTE) is not None

        answered = handed_off("answered", channel="whatsapp", language="ar")
        claimed = handoff.claim(session, answered, staff.id, MORNING + 3 * MINUTE)
        assert claimed is not None
        handoff.record_staff_reply(session, claimed, MORNING + 5 * MINUTE)
        handoff.close(
            session, answered, staff.id, "asylum.apply", "answered", MORNING + 20 * MINUTE
        )

        abandoned = handed_off("abandoned")
        assert handoff.claim(session, abandoned, staff.id, MORNING + 2 * MINUTE) is not None
        handoff.close(
            session, abandoned, staff.id, "asylum.apply", "no_reply", MORNING + 9 * MINUTE
        )
        session.commit()
    assert close_idle(engine, settings, now=MORNING + timedelta(days=2)) == 1  # bot_only
    return Built(ids)


def report_of(engine: Engine) -> Report:
    with Session(engine) as session:
        return build_report(session, Period.year(2025), BRUSSELS)


# --- 1. the first staff answer counts from the handoff; the bot's is its own figure --------


def test_first_staff_answer_counts_from_the_handoff_to_the_first_staff_message(
    engine: Engine, built: Built
) -> None:
    report = report_of(engine)

    # One conversation had a staff message: 4 minutes after its handoff (not the bot's
    # 4 seconds, nor 5 minutes from the start of the chat).
    assert report.median_first_response == 4 * 60
    assert report_json(report)["first_staff_answer_median_s"] == 4 * 60


def test_the_bots_first_answer_is_a_separate_figure(engine: Engine, built: Built) -> None:
    report = report_of(engine)

    # bot_only after 2 s, the four handed off after 4 s: the median is 4 s.
    assert report.median_bot_first_answer == 4


def test_without_a_staff_message_there_is_no_first_staff_answer(
    engine: Engine, settings: Settings, flows: FlowEngine
) -> None:
    with Session(engine) as session:
        conversation = chat(session, settings, "1", MORNING)
        _bot_replies(session, flows, conversation, MORNING + timedelta(seconds=1))
        session.commit()
    report = report_of(engine)
    assert report.median_first_response is None
    assert report_json(report)["first_staff_answer_median_s"] is None
    assert report.median_bot_first_answer == 1


# --- 2. where each conversation stands ---------------------------------------------------


def test_each_chat_outcome_is_counted_by_its_definition(engine: Engine, built: Built) -> None:
    figures = report_json(report_of(engine))

    assert figures["chat_outcomes"] == {
        "resolved_by_bot": 1,  # bot_only
        "answered_by_staff": 1,  # answered
        "waiting": 2,  # waiting, taken
        "abandoned": 1,  # abandoned
    }
    assert figures["bot"] == {"conversations": 5, "resolved": 1, "handed_off": 4}


def test_taking_a_conversation_without_replying_is_not_answered_by_staff(
    engine: Engine, built: Built
) -> None:
    report = report_of(engine)

    assert report.line("chat").total == 1  # only the conversation a staff member wrote in
    assert report.line("whatsapp").total == 1
    assert report.line("telegram").total == 0


def test_the_bot_alone_leaves_out_conversations_handed_to_staff(
    engine: Engine, built: Built
) -> None:
    report = report_of(engine)

    assert report.bot_line().total == 1  # bot_only; not the waiting, taken or abandoned ones
    assert report.by_language["ps"].bot == 1
    assert report.by_language["ps"].staff == 0
    assert report.by_language["ps"].unanswered == 3
    assert report.by_language["ar"].staff == 1


# --- 3. the outcome chosen at closing -----------------------------------------------------


def test_outcomes_are_reported_per_channel_and_language(engine: Engine, built: Built) -> None:
    report = report_of(engine)

    assert report.outcomes == {"resolved_by_bot": 1, "answered": 1, "no_reply": 1}
    assert report.outcomes_by_channel == {
        "telegram": {"resolved_by_bot": 1, "no_reply": 1},
        "whatsapp": {"answered": 1},
    }
    assert report.outcomes_by_language == {
        "ps": {"resolved_by_bot": 1, "no_reply": 1},
        "ar": {"answered": 1},
    }


def test_the_exports_carry_outcomes_and_the_new_figures(engine: Engine, built: Built) -> None:
    report = report_of(engine)
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    single = {(row[0], row[1]): row[-2] for row in rows[1:]}
    records = list(
        csv.DictReader(io.StringIO("".join(records_csv(engine, Period.year(2025), BRUSSELS))))
    )

    assert single["outcomes", "no_reply"] == "1"
    assert single["outcomes:channel", "whatsapp:answered"] == "1"
    assert single["outcomes:language", "ps:no_reply"] == "1"
    assert single["chat_outcomes", "waiting"] == "2"
    assert single["times", "median_first_staff_answer_seconds"] == "240.0"
    assert single["times", "median_bot_first_answer_seconds"] == "4.0"
    assert RECORD_COLUMNS[:14] == (
        "id",
        "started_at",
        "channel",
        "language",
        "topic",
        "handled_by",
        "handed_off",
        "urgent",
        "first_response_seconds",
        "resolution_seconds",
        "minutes",
        "participants",
        "place",
        "source",
    )
    by_outcome = {row["chat_outcome"]: row for row in records}
    assert set(by_outcome) == {"resolved_by_bot", "answered_by_staff", "waiting", "abandoned"}
    answered = by_outcome["answered_by_staff"]
    assert (answered["outcome"], answered["first_staff_answer_seconds"]) == ("answered", "240")
    assert answered["bot_first_answer_seconds"] == "4"
    assert by_outcome["abandoned"]["outcome"] == "no_reply"


def test_stats_json_adds_chat_outcomes_and_the_first_staff_answer(
    engine: Engine, built: Built, helpline_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPLINE_TIMEZONE", "Europe/Brussels")
    result = helpline_cli.invoke(app, ["stats", "--year", "2025", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)

    assert figures["chat_outcomes"]["waiting"] == 2
    assert figures["chat_outcomes"]["abandoned"] == 1
    assert figures["first_staff_answer_median_s"] == 240


def _figure(html: str, figure_id: str) -> str:
    found = re.search(rf'<div[^>]*id="{figure_id}"[^>]*>(.*?)</div>', html, re.S)
    assert found, f"no figure {figure_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0))).strip()


def test_the_page_shows_each_figure_with_its_definition(built: Built, alice: Staff) -> None:
    page = alice.get("/console/stats?year=2025")

    assert page.status_code == 200
    expected = {
        "chat-resolved_by_bot": ("1", "Closed without ever being handed to staff"),
        "chat-answered_by_staff": ("1", "A staff member sent at least one message"),
        "chat-waiting": ("2", "Handed to staff, not closed, and no staff message yet"),
        "chat-abandoned": ("1", "Handed to staff, then closed without any staff message"),
    }
    for figure_id, (count, definition) in expected.items():
        text = _figure(page.text, figure_id)
        assert f" {count} " in f" {text} ", text
        assert definition in text
    times = _figure(page.text, "times")
    assert "First staff answer, from the handoff: 4 minutes" in times
    assert "The bot's first answer: 4 seconds" in times
    assert row_cells(page.text, "outcome-no_reply") == ["0", "1", "1"]  # whatsapp, telegram
    assert row_cells(page.text, "outcome-answered") == ["1", "0", "1"]
    assert row_cells(page.text, "language-outcome-no_reply") == ["1", "0", "1"]  # ps, ar
    assert row_cells(page.text, "line-bot")[-2] == "1"
