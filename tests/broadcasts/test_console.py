"""The console's broadcast pages: who may use them, the count, sending, CSRF, the report."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.config import Settings
from bot.models import AuditEntry, Broadcast, StaffUser
from tests.broadcasts.people import add_people
from tests.support.staff import Staff


def allow(engine: Engine, staff: Staff) -> None:
    with Session(engine) as session:
        user = session.get(StaffUser, staff.id)
        assert user is not None
        user.can_broadcast = True
        session.add(user)
        session.commit()


def test_staff_without_the_permission_cannot_see_or_send_broadcasts(
    alice: Staff, engine: Engine
) -> None:
    assert alice.get("/console/broadcasts").status_code == 403
    assert alice.get("/console/broadcasts/count").status_code == 403
    sent = alice.post("/console/broadcasts", {"text_nl": "Nieuws"})
    assert sent.status_code == 403
    with Session(engine) as session:
        assert session.exec(select(Broadcast)).all() == []


def test_the_count_says_how_many_each_language_reaches(
    alice: Staff, engine: Engine, settings: Settings
) -> None:
    allow(engine, alice)
    add_people(engine, settings, 12, channel="telegram")
    add_people(engine, settings, 6, channel="whatsapp", start=100)

    counted = alice.client.get(
        "/console/broadcasts/count?channel=telegram&has_nl=1&has_ps=1",
        headers={"accept": "application/json"},
    ).json()

    assert counted["targeted"] == 4
    assert counted["audience"] == 12
    assert counted["not_reached_for_want_of_a_text"] == 8
    assert counted["by_language"]["ps"] == {"audience": 2, "targeted": 2, "has_text": True}


def test_an_admin_sends_one_and_sees_its_report(
    admin: Staff, engine: Engine, settings: Settings
) -> None:
    add_people(engine, settings, 6, channel="telegram")

    sent = admin.post(
        "/console/broadcasts",
        {"text_nl": "Nieuw adres", "text_fa": "آدرس جدید", "channel": "telegram", "when": "now"},
    )

    assert sent.status_code == 303
    page = admin.get(sent.headers["location"])
    assert page.status_code == 200
    assert "آدرس جدید" in page.text
    csv = admin.get(sent.headers["location"] + "/report.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    with Session(engine) as session:
        broadcast = session.exec(select(Broadcast)).one()
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "broadcast")).one()
    assert broadcast.targeted == 2 and set(broadcast.texts) == {"nl", "fa"}
    assert entry.staff_id == admin.id


def test_a_broadcast_without_the_csrf_token_is_refused(admin: Staff, engine: Engine) -> None:
    refused = admin.client.post(
        "/console/broadcasts", data={"text_nl": "Nieuws"}, follow_redirects=False
    )

    assert refused.status_code == 403
    with Session(engine) as session:
        assert session.exec(select(Broadcast)).all() == []


def test_a_broadcast_with_no_text_is_refused_with_the_reason(admin: Staff) -> None:
    refused = admin.post("/console/broadcasts", {"text_nl": "  ", "when": "now"})

    assert refused.status_code == 400
    assert "at least one language" in refused.text


def test_cancel_from_the_console_stops_it_and_is_audited(
    admin: Staff, engine: Engine, settings: Settings
) -> None:
    add_people(engine, settings, 3, channel="telegram")
    sent = admin.post("/console/broadcasts", {"text_en": "News", "when": "now"})
    page = sent.headers["location"]

    cancelled = admin.post(page + "/cancel")

    assert cancelled.status_code == 303
    assert "Cancelled" in admin.get(page).text
    with Session(engine) as session:
        broadcast = session.exec(select(Broadcast)).one()
        actions = session.exec(select(AuditEntry.action)).all()
    assert broadcast.status == "cancelled"
    assert "broadcast_cancelled" in actions
