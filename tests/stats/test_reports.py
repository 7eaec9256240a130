"""What the report counts: staff and bot side by side, by month in local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot import handoff
from bot.config import Settings
from bot.hours import OpeningHours
from bot.models import Conversation, Owner, utcnow
from bot.stats.records import LoggedContact, log_contact, sync_record
from bot.stats.reports import Period, build_report, report_json, round_half_up
from tests.stats.helpers import BRUSSELS, FIXTURE_2024, chat, import_file
from tests.support.factories import add_staff

MORNING = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Brussels


def close_by_bot(session: Session, conversation: Conversation, at: datetime) -> None:
    conversation.owner = Owner.closed
    conversation.closed_at = at
    session.add(conversation)
    sync_record(session, conversation)


def test_bot_work_and_staff_work_are_counted_side_by_side(
    engine: Engine, settings: Settings
) -> None:
    hours = OpeningHours.from_settings(settings)
    with Session(engine) as session:
        staff = add_staff(session, "an@example.org")
        assert staff.id is not None
        answered_by_bot = chat(session, settings, "1", MORNING)
        close_by_bot(session, answered_by_bot, MORNING + timedelta(minutes=3))

        taken_by_staff = chat(session, settings, "2", MORNING, channel="whatsapp")
        handoff.request_handoff(
            session, taken_by_staff, reason="asked", urgent=False, hours=hours, now=MORNING
        )
        assert taken_by_staff.id is not None
        handoff.claim(session, taken_by_staff.id, staff.id, MORNING + timedelta(minutes=4))
        handoff.record_staff_reply(session, taken_by_staff, MORNING + timedelta(minutes=6))
        handoff.close(
            session,
            taken_by_staff.id,
            staff.id,
            "asylum.apply",
            "answered",
            MORNING + timedelta(minutes=20),
        )

        never_claimed = chat(session, settings, "3", MORNING)
        handoff.request_handoff(
            session, never_claimed, reason="abstained", urgent=False, hours=hours, now=MORNING
        )
        close_by_bot(session, never_claimed, MORNING + timedelta(days=1))

        chat(session, settings, "4", MORNING)  # still talking to the bot
        session.commit()

        report = build_report(session, Period.year(2025), BRUSSELS)

    figures = report_json(report)
    assert figures["bot"] == {"conversations": 4, "resolved": 1, "handed_off": 2}
    assert figures["staff"]["chat"]["total"] == 1
    assert figures["staff"]["chat"]["by_channel"]["whatsapp"] == 1
    assert figures["staff"]["chat"]["per_month"][2] == 1  # March
    assert report.bot_line().total == 2  # never handed to staff: answered_by_bot, the 4th
    assert report.median_first_response == 6 * 60
    assert report.median_resolution == 20 * 60


def test_months_are_calendar_months_in_brussels(engine: Engine) -> None:
    with Session(engine) as session:
        for started in (
            datetime(2024, 1, 31, 22, 59, tzinfo=UTC),  # 23:59 on 31 January in Brussels
            datetime(2024, 1, 31, 23, 0, tzinfo=UTC),  # midnight: 1 February
            datetime(2024, 3, 31, 21, 59, tzinfo=UTC),  # 23:59 summer time on 31 March
            datetime(2024, 12, 31, 22, 59, tzinfo=UTC),  # last minute of the year
            datetime(2024, 12, 31, 23, 0, tzinfo=UTC),  # already 2025 in Brussels
            datetime(2023, 12, 31, 23, 0, tzinfo=UTC),  # already 2024 in Brussels
        ):
            log_contact(
                session, LoggedContact("phone", started_at=started), staff_id=None, now=utcnow()
            )
        session.commit()

        report = build_report(session, Period.year(2024), BRUSSELS)

    assert report.line("phone").per_month == (2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1)


def test_a_month_and_a_range_of_days_average_over_their_own_months(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        import_file(session, FIXTURE_2024, utcnow())
        session.commit()
        year = build_report(session, Period.year(2024), BRUSSELS)
        march = build_report(session, Period.month(2024, 3), BRUSSELS)
        spring = build_report(session, Period(date(2024, 3, 15), date(2024, 5, 14)), BRUSSELS)

    assert march.line("phone").per_month == (year.line("phone").per_month[2],)
    assert march.line("phone").monthly_avg == march.line("phone").total
    assert len(spring.months) == 3
    assert 0 < spring.line("phone").per_month[0] < year.line("phone").per_month[2]
    assert spring.line("total").monthly_avg == round_half_up(spring.line("total").total / 3)


def test_languages_and_topics_show_who_handled_them(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        bot_only = chat(session, settings, "1", MORNING, language="uk")
        bot_only.topic = "ukraine.temporary_protection"
        close_by_bot(session, bot_only, MORNING + timedelta(minutes=2))
        log_contact(
            session,
            LoggedContact("phone", language="uk", topic="ukraine.temporary_protection"),
            staff_id=None,
            now=MORNING,
        )
        log_contact(session, LoggedContact("email", language="fr"), staff_id=None, now=MORNING)
        session.commit()

        report = build_report(session, Period.year(2025), BRUSSELS)

    assert (report.by_language["uk"].staff, report.by_language["uk"].bot) == (1, 1)
    assert report.by_language["fr"].total == 1
    assert report.by_topic["ukraine.temporary_protection"].total == 2
    assert report.by_topic["unknown"].total == 1
    assert list(report.by_language) == ["uk", "fr"]  # biggest first


def test_qa_sessions_average_their_participants_rounding_half_up(engine: Engine) -> None:
    with Session(engine) as session:
        for participants in (30, 31):
            log_contact(
                session,
                LoggedContact(
                    "qa_session", started_at=MORNING, place="Gent", participants=participants
                ),
                staff_id=None,
                now=MORNING,
            )
        session.commit()
        qa = build_report(session, Period.year(2025), BRUSSELS).qa

    assert (qa.sessions, qa.participants_avg, qa.participants_max) == (2, 31, 31)


def test_an_empty_period_reports_zeroes_not_errors(engine: Engine) -> None:
    with Session(engine) as session:
        figures = report_json(build_report(session, Period.year(2030), BRUSSELS))
    assert figures["qa_sessions"] == {"sessions": 0, "participants_avg": 0, "participants_max": 0}
    assert figures["staff"]["total"] == {"total": 0, "monthly_avg": 0}


@pytest.mark.parametrize(("value", "rounded"), [(408.0, 408), (68.25, 68), (531.5, 532)])
def test_averages_round_half_up(value: float, rounded: int) -> None:
    assert round_half_up(value) == rounded


def test_a_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError):
        Period(date(2024, 5, 1), date(2024, 4, 30))
