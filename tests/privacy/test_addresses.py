from sqlalchemy import Engine, text
from sqlmodel import Session

from bot.config import Settings
from bot.conversations import find_contact, get_or_create_contact
from bot.privacy.addresses import decrypt_address, mask_address


def test_phone_numbers_are_not_stored_in_clear(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        contact = get_or_create_contact(session, settings, "whatsapp", "whatsapp:+32470123456")
        session.commit()
        assert decrypt_address(settings, contact.address_enc) == "whatsapp:+32470123456"
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM contact")) for v in row)
    assert "470123456" not in dump


def test_the_same_address_finds_the_same_contact(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        first = get_or_create_contact(session, settings, "telegram", "12345")
        session.commit()
        again = get_or_create_contact(session, settings, "telegram", "12345")
        other_channel = find_contact(session, settings, "whatsapp", "12345")
    assert again.id == first.id
    assert other_channel is None


def test_staff_see_a_masked_number() -> None:
    assert mask_address("whatsapp:+32470123456") == "•••••••••456"
