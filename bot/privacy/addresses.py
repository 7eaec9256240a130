"""Channel addresses (phone numbers, Telegram ids) at rest.

An address is stored encrypted (Fernet, with ``HELPLINE_DATA_KEY``) and found again
through a keyed hash, so that a copy of the database alone does not reveal who
wrote to the helpline.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet

from bot.config import Settings


def address_hash(settings: Settings, channel: str, address: str) -> str:
    key = hashlib.sha256(("address-hash:" + settings.data_key).encode()).digest()
    return hmac.new(key, f"{channel}:{address}".encode(), hashlib.sha256).hexdigest()


def encrypt_address(settings: Settings, address: str) -> str:
    return Fernet(settings.data_key.encode()).encrypt(address.encode()).decode()


def decrypt_address(settings: Settings, token: str) -> str:
    return Fernet(settings.data_key.encode()).decrypt(token.encode()).decode()


def mask_address(address: str) -> str:
    """What staff see unless an admin reveals it: the last three characters."""
    bare = address.removeprefix("whatsapp:")
    if len(bare) <= 4:
        return "•" * len(bare)
    return "•" * (len(bare) - 3) + bare[-3:]
