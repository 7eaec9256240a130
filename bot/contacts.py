"""Finding the contact behind an inbound message."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.models import Contact
from bot.privacy import address_hash, address_hashes, encrypt_address


def find_contact(
    session: Session, settings: Settings, channel: str, address: str
) -> Contact | None:
    # Under the current data key, or an old one not yet rotated away (the current first).
    digests = address_hashes(settings, channel, address)
    found = session.exec(
        select(Contact).where(Contact.channel == channel, col(Contact.address_hash).in_(digests))
    ).all()
    return min(found, key=lambda contact: digests.index(contact.address_hash), default=None)


def get_or_create_contact(
    session: Session, settings: Settings, channel: str, address: str
) -> Contact:
    """The contact for this address, created on first contact (safe under concurrency)."""
    contact = find_contact(session, settings, channel, address)
    if contact is not None:
        return contact
    contact = Contact(
        channel=channel,
        address_hash=address_hash(settings, channel, address),
        address_enc=encrypt_address(settings, address),
    )
    try:
        with session.begin_nested():
            session.add(contact)
            session.flush()
    except IntegrityError:
        # Another request created it first.
        existing = find_contact(session, settings, channel, address)
        assert existing is not None
        return existing
    return contact
