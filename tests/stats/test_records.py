from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.models import ContactRecord, Conversation, Owner, utcnow
from bot.stats.records import sync_record


def test_a_conversation_has_one_anonymous_record_that_follows_it(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        contact = get_or_create_contact(session, settings, "telegram", "4242")
        conversation = Conversation(contact_id=contact.id, channel="telegram", language="ps")
        session.add(conversation)
        sync_record(session, conversation)
        session.commit()

        conversation.topic = "asylum.interview"
        conversation.owner = Owner.staff
        conversation.claimed_at = utcnow()
        sync_record(session, conversation)
        session.commit()
        taken = session.exec(select(ContactRecord)).one().handled_by

        conversation.first_response_at = utcnow()  # a staff member wrote
        sync_record(session, conversation)
        session.commit()

        records = session.exec(select(ContactRecord)).all()
    assert taken == "bot"  # taking a conversation is not answering it
    assert len(records) == 1
    assert records[0].channel == "telegram"
    assert records[0].language == "ps"
    assert records[0].topic == "asylum.interview"
    assert records[0].handled_by == "staff"
