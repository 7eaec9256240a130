import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import handoff
from bot.config import Settings
from bot.handoff import HandoffError
from bot.hours import OpeningHours
from bot.models import ContactRecord, Conversation, Owner
from tests.support.factories import add_conversation, add_staff

OPEN = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Brussels
CLOSED = datetime(2026, 3, 7, 9, 0, tzinfo=UTC)  # Saturday


@pytest.fixture
def hours(settings: Settings) -> OpeningHours:
    return OpeningHours.from_settings(settings)


def test_handoff_during_opening_hours_queues_the_conversation(
    engine: Engine, settings: Settings, hours: OpeningHours
) -> None:
    with Session(engine) as session:
        conversation = add_conversation(session, settings, address="1", owner=Owner.bot)
        result = handoff.request_handoff(
            session, conversation, reason="asked", urgent=False, hours=hours, now=OPEN
        )
        session.commit()
        assert result == handoff.HandoffResult(
            open_now=True, next_opening=None, notify_after_hours=False
        )
        assert conversation.owner == Owner.queue
        assert conversation.queued_at == OPEN
        assert conversation.handoff_reason == "asked"
        assert conversation.after_hours_notice_at is None


def test_after_hours_the_person_is_told_once_when_staff_are_back(
    engine: Engine, settings: Settings, hours: OpeningHours
) -> None:
    with Session(engine) as session:
        conversation = add_conversation(session, settings, address="1", owner=Owner.bot)
        first = handoff.request_handoff(
            session, conversation, reason="asked", urgent=False, hours=hours, now=CLOSED
        )
        again = handoff.request_handoff(
            session,
            conversation,
            reason="asked",
            urgent=False,
            hours=hours,
            now=CLOSED + timedelta(minutes=3),
        )
        session.commit()
        assert conversation.owner == Owner.queue
        assert conversation.queued_at == CLOSED  # the second request keeps the place in line
    assert first.open_now is False
    assert first.notify_after_hours is True
    assert first.next_opening == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert again.notify_after_hours is False


def test_a_later_non_urgent_request_never_clears_urgent(
    engine: Engine, settings: Settings, hours: OpeningHours
) -> None:
    with Session(engine) as session:
        conversation = add_conversation(session, settings, address="1", owner=Owner.bot)
        handoff.request_handoff(
            session, conversation, reason="urgent", urgent=True, hours=hours, now=OPEN
        )
        handoff.request_handoff(
            session, conversation, reason="asked", urgent=False, hours=hours, now=OPEN
        )
        session.commit()
        assert conversation.urgent is True
        assert conversation.handoff_reason == "urgent"
        record = session.exec(select(ContactRecord)).one()
        assert record.urgent is True


def test_an_urgent_request_upgrades_a_conversation_already_waiting(
    engine: Engine, settings: Settings, hours: OpeningHours
) -> None:
    with Session(engine) as session:
        conversation = add_conversation(session, settings, address="1")
        handoff.request_handoff(
            session, conversation, reason="urgent", urgent=True, hours=hours, now=OPEN
        )
        assert conversation.urgent is True
        assert conversation.owner == Owner.queue


def test_handoff_leaves_a_conversation_held_by_staff_with_them(
    engine: Engine, settings: Settings, hours: OpeningHours
) -> None:
    with Session(engine) as session:
        staff = add_staff(session, "a@example.org")
        conversation = add_conversation(session, settings, address="1")
        assert staff.id is not None and conversation.id is not None
        handoff.claim(session, conversation.id, staff.id, OPEN)
        handoff.request_handoff(
            session, conversation, reason="asked", urgent=False, hours=hours, now=OPEN
        )
        session.commit()
        assert conversation.owner == Owner.staff
        assert conversation.assignee_id == staff.id


def test_queue_puts_urgent_first_then_longest_waiting(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        old = add_conversation(session, settings, address="1", queued_at=OPEN - timedelta(hours=2))
        new = add_conversation(session, settings, address="2", queued_at=OPEN)
        urgent = add_conversation(session, settings, address="3", queued_at=OPEN, urgent=True)
        add_conversation(session, settings, address="4", owner=Owner.bot)
        session.commit()
        assert [c.id for c in handoff.waiting(session)] == [urgent.id, old.id, new.id]


def test_claim_gives_the_conversation_to_the_staff_member(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        staff = add_staff(session, "a@example.org")
        other = add_staff(session, "b@example.org")
        conversation = add_conversation(session, settings, address="1")
        session.commit()
        assert staff.id and other.id and conversation.id
        claimed = handoff.claim(session, conversation.id, staff.id, OPEN)
        session.commit()
        assert claimed is not None
        assert (claimed.owner, claimed.assignee_id, claimed.claimed_at) == (
            Owner.staff,
            staff.id,
            OPEN,
        )
        assert handoff.claim(session, conversation.id, other.id, OPEN) is None
        record = session.exec(select(ContactRecord)).one()
        # Taking it is not answering it: staff handled it once they write (docs/statistics.md).
        assert (record.handled_by, record.handed_off, record.staff_id) == ("bot", True, staff.id)
        handoff.record_staff_reply(session, claimed, OPEN + timedelta(minutes=1))
        session.commit()
        session.refresh(record)
        assert record.handled_by == "staff"


def test_claim_next_takes_the_top_of_the_queue(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        staff = add_staff(session, "a@example.org")
        add_conversation(session, settings, address="1", queued_at=OPEN - timedelta(hours=1))
        urgent = add_conversation(session, settings, address="2", queued_at=OPEN, urgent=True)
        session.commit()
        assert staff.id
        claimed = handoff.claim_next(session, staff.id, OPEN)
        assert claimed is not None and claimed.id == urgent.id


def claim_at_once(engine: Engine, conversation_id: int, staff: list[int]) -> list[int]:
    """Several staff members claim the same conversation at the same moment."""
    barrier = threading.Barrier(len(staff))
    winners: list[int] = []

    def attempt(staff_id: int) -> None:
        with Session(engine) as session:
            barrier.wait()
            claimed = handoff.claim(session, conversation_id, staff_id, OPEN)
            session.commit()
            if claimed is not None:
                winners.append(staff_id)

    threads = [threading.Thread(target=attempt, args=(s,)) for s in staff]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners


def test_staff_claiming_at_once_gives_it_to_exactly_one(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        staff = [add_staff(session, f"s{i}@example.org").id or 0 for i in range(4)]
        conversations = [add_conversation(session, settings, address=str(n)).id for n in range(5)]
        session.commit()
    for conversation_id in conversations:
        assert conversation_id is not None
        winners = claim_at_once(engine, conversation_id, staff)
        assert len(winners) == 1
        with Session(engine) as session:
            stored = session.get(Conversation, conversation_id)
            assert stored is not None and stored.assignee_id == winners[0]


def test_release_puts_it_back_in_the_queue_in_its_old_place(
    engine: Engine, settings: Settings
) -> None:
    queued = OPEN - timedelta(hours=1)
    with Session(engine) as session:
        staff = add_staff(session, "a@example.org")
        other = add_staff(session, "b@example.org")
        conversation = add_conversation(session, settings, address="1", queued_at=queued)
        assert staff.id and other.id and conversation.id
        handoff.claim(session, conversation.id, staff.id, OPEN)
        assert handoff.release(session, conversation.id, other.id, OPEN) is None
        released = handoff.release(session, conversation.id, staff.id, OPEN)
        session.commit()
        assert released is not None
        assert released.owner == Owner.queue
        assert released.assignee_id is None
        assert released.queued_at == queued


def test_transfer_hands_the_conversation_to_a_colleague(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        staff = add_staff(session, "a@example.org")
        other = add_staff(session, "b@example.org")
        conversation = add_conversation(session, settings, address="1")
        assert staff.id and other.id and conversation.id
        handoff.claim(session, conversation.id, staff.id, OPEN)
        assert handoff.transfer(session, conversation.id, other.id, staff.id, OPEN) is None
        moved = handoff.transfer(session, conversation.id, staff.id, other.id, OPEN)
        assert moved is not None and moved.assignee_id == other.id
        assert moved.owner == Owner.staff


def test_transfer_to_an_inactive_colleague_is_refused(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        staff = add_staff(session, "a@example.org")
        gone = add_staff(session, "b@example.org")
        gone.active = False
        conversation = add_conversation(session, settings, address="1")
        assert staff.id and gone.id and conversation.id
        handoff.claim(session, conversation.id, staff.id, OPEN)
        with pytest.raises(HandoffError):
            handoff.transfer(session, conversation.id, staff.id, gone.id, OPEN)


def test_close_records_topic_and_outcome(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        staff = add_staff(session, "a@example.org")
        conversation = add_conversation(session, settings, address="1")
        assert staff.id and conversation.id
        handoff.claim(session, conversation.id, staff.id, OPEN)
        closed = handoff.close(session, conversation.id, staff.id, "asylum.apply", "answered", OPEN)
        session.commit()
        assert closed is not None
        assert (closed.owner, closed.topic, closed.outcome, closed.closed_at) == (
            Owner.closed,
            "asylum.apply",
            "answered",
            OPEN,
        )
        record = session.exec(select(ContactRecord)).one()
        assert (record.topic, record.closed_at) == ("asylum.apply", OPEN)


def test_close_refuses_an_unknown_outcome_and_a_conversation_not_held(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        staff = add_staff(session, "a@example.org")
        conversation = add_conversation(session, settings, address="1")
        assert staff.id and conversation.id
        assert (
            handoff.close(session, conversation.id, staff.id, "asylum.apply", "answered", OPEN)
            is None
        )
        handoff.claim(session, conversation.id, staff.id, OPEN)
        with pytest.raises(HandoffError):
            handoff.close(session, conversation.id, staff.id, "asylum.apply", "solved?", OPEN)


def test_first_staff_reply_sets_the_first_response_time_once(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        conversation = add_conversation(session, settings, address="1")
        handoff.record_staff_reply(session, conversation, OPEN)
        handoff.record_staff_reply(session, conversation, OPEN + timedelta(minutes=5))
        assert conversation.first_response_at == OPEN
