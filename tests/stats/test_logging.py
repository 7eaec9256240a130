"""Staff log phone calls, e-mails and Q&A sessions, and correct their mistakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.models import ContactRecord
from bot.stats.records import (
    LoggedContact,
    NotAllowed,
    RecordError,
    delete_logged,
    log_contact,
    recent_logged,
    update_logged,
)
from bot.stats.reports import Period, build_report
from tests.stats.helpers import BRUSSELS
from tests.support.factories import add_staff

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


def test_a_logged_phone_call_counts_as_a_staff_contact_of_that_month(engine: Engine) -> None:
    with Session(engine) as session:
        staff = add_staff(session, "an@example.org")
        record = log_contact(
            session,
            LoggedContact("phone", language="fr", topic="asylum.apply", minutes=12),
            staff_id=staff.id,
            now=NOW,
        )
        assert record.handled_by == "staff" and record.source == "console"
        assert record.started_at == NOW
        session.commit()
        report = build_report(session, Period.year(2025), BRUSSELS)

    assert report.line("phone").per_month[5] == 1  # June
    assert report.minutes["phone"] == 12


def test_a_session_needs_its_participants_and_nothing_else_takes_them() -> None:
    with pytest.raises(RecordError, match="participants"):
        log_contact(None, LoggedContact("qa_session", place="Gent"), staff_id=1, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(RecordError, match="only for a Q&A session"):
        log_contact(None, LoggedContact("phone", participants=3), staff_id=1, now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        (LoggedContact("whatsapp"), "channel"),
        (LoggedContact("phone", language="de"), "language"),
        (LoggedContact("phone", topic="Asylum apply"), "topic"),
        (LoggedContact("email", minutes=-5), "minutes"),
        (LoggedContact("phone", started_at=datetime(2025, 6, 2, 9, 30)), "time zone"),
    ],
)
def test_an_entry_that_makes_no_sense_is_refused(entry: LoggedContact, complaint: str) -> None:
    with pytest.raises(RecordError, match=complaint):
        log_contact(None, entry, staff_id=1, now=NOW)  # type: ignore[arg-type]


def test_staff_correct_their_own_recent_entries_and_admins_any(engine: Engine) -> None:
    with Session(engine) as session:
        an = add_staff(session, "an@example.org")
        bo = add_staff(session, "bo@example.org")
        admin = add_staff(session, "admin@example.org", role="admin")
        record = log_contact(
            session, LoggedContact("phone", language="nl"), staff_id=an.id, now=NOW
        )
        assert record.id is not None
        fixed = LoggedContact("email", language="nl", minutes=5)

        update_logged(session, record.id, fixed, staff_id=an.id, is_admin=False, now=NOW)
        assert (record.channel, record.minutes) == ("email", 5)
        assert record.started_at == NOW  # kept when the form leaves the time alone

        with pytest.raises(NotAllowed):
            update_logged(session, record.id, fixed, staff_id=bo.id, is_admin=False, now=NOW)
        later = NOW + timedelta(days=8)
        with pytest.raises(NotAllowed):
            delete_logged(session, record.id, staff_id=an.id, is_admin=False, now=later)
        assert recent_logged(session, staff_id=an.id, is_admin=False, now=later) == []

        delete_logged(session, record.id, staff_id=admin.id, is_admin=True, now=later)
        session.commit()
        assert session.get(ContactRecord, record.id) is None


def test_live_and_imported_records_cannot_be_edited_from_the_console(engine: Engine) -> None:
    with Session(engine) as session:
        record = ContactRecord(channel="telegram", source="live", started_at=NOW)
        session.add(record)
        session.flush()
        assert record.id is not None
        with pytest.raises(LookupError):
            delete_logged(session, record.id, staff_id=None, is_admin=True, now=NOW)


def test_recent_entries_are_the_ones_this_person_may_still_correct(engine: Engine) -> None:
    with Session(engine) as session:
        an = add_staff(session, "an@example.org")
        bo = add_staff(session, "bo@example.org")
        old = log_contact(
            session, LoggedContact("phone"), staff_id=an.id, now=NOW - timedelta(days=9)
        )
        new = log_contact(session, LoggedContact("email"), staff_id=an.id, now=NOW)
        theirs = log_contact(session, LoggedContact("phone"), staff_id=bo.id, now=NOW)

        mine = recent_logged(session, staff_id=an.id, is_admin=False, now=NOW)
        everything = recent_logged(session, staff_id=None, is_admin=True, now=NOW)

    assert [r.id for r in mine] == [new.id]
    assert {r.id for r in everything} == {old.id, new.id, theirs.id}
