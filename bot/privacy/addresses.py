"""Channel addresses (phone numbers, Telegram ids) at rest.

An address is stored encrypted (Fernet, with ``HELPLINE_DATA_KEY``) and found again
through a keyed hash, so that a copy of the database alone does not reveal who
wrote to the helpline.

The old data keys (``HELPLINE_OLD_DATA_KEYS``, or those kept in the secrets file)
still decrypt and find what was stored under them; new addresses are stored under
the current key, and ``rotate_addresses`` (``helpline keys rotate``) moves every
stored one there, after which the old keys can go.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.models import Contact


def _hash_under(data_key: str, channel: str, address: str) -> str:
    key = hashlib.sha256(("address-hash:" + data_key).encode()).digest()
    return hmac.new(key, f"{channel}:{address}".encode(), hashlib.sha256).hexdigest()


def address_hash(settings: Settings, channel: str, address: str) -> str:
    """The keyed hash an address is stored and found by, under the current data key."""
    return _hash_under(settings.data_key, channel, address)


def address_hashes(settings: Settings, channel: str, address: str) -> list[str]:
    """Its hash under every data key still accepted, the current key's first."""
    return [_hash_under(key, channel, address) for key in settings.data_keys]


@lru_cache(maxsize=16)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_address(settings: Settings, address: str) -> str:
    return _fernet((settings.data_key,)).encrypt(address.encode()).decode()


def decrypt_address(settings: Settings, token: str) -> str:
    return _fernet(tuple(settings.data_keys)).decrypt(token.encode()).decode()


def mask_address(address: str) -> str:
    """What staff see unless an admin reveals it: the last three characters."""
    bare = address.removeprefix("whatsapp:")
    if len(bare) <= 4:
        return "•" * len(bare)
    return "•" * (len(bare) - 3) + bare[-3:]


@dataclass
class Rotation:
    """What ``rotate_addresses`` did."""

    re_encrypted: int = 0
    current: int = 0  # already under the current key
    unreadable: list[int] = field(default_factory=list)  # contact ids no key decrypts
    # contact ids whose address another contact already holds under the current key
    # (stored while the old key was not configured): left as they are
    duplicates: list[int] = field(default_factory=list)


def rotate_addresses(engine: Engine, settings: Settings, *, batch: int = 500) -> Rotation:
    """Re-encrypt and re-hash every stored address under the current data key.

    Safe while the service runs: a row is rewritten only if it still holds what was
    read, one batch per transaction.
    """
    current = Fernet(settings.data_key.encode())
    every_key = _fernet(tuple(settings.data_keys))
    result = Rotation()
    last_id = 0
    while True:
        with Session(engine) as session, session.begin():
            rows = session.exec(
                select(Contact.id, Contact.channel, Contact.address_hash, Contact.address_enc)
                .where(col(Contact.id) > last_id)
                .order_by(col(Contact.id))
                .limit(batch)
            ).all()
            for contact_id, channel, digest, token in rows:
                assert contact_id is not None
                last_id = contact_id
                try:
                    address = current.decrypt(token.encode()).decode()
                    under_current = True
                except InvalidToken:
                    try:
                        address = every_key.decrypt(token.encode()).decode()
                    except InvalidToken:
                        result.unreadable.append(contact_id)
                        continue
                    under_current = False
                new_digest = address_hash(settings, channel, address)
                if under_current and digest == new_digest:
                    result.current += 1
                    continue
                try:
                    with session.begin_nested():
                        written = session.execute(
                            update(Contact)
                            .where(col(Contact.id) == contact_id, col(Contact.address_enc) == token)
                            .values(
                                address_hash=new_digest,
                                address_enc=current.encrypt(address.encode()).decode(),
                            )
                        )
                except IntegrityError:
                    result.duplicates.append(contact_id)
                    continue
                if getattr(written, "rowcount", 0) == 1:  # else erased meanwhile
                    result.re_encrypted += 1
        if len(rows) < batch:
            return result
