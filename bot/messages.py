"""Channel-neutral messages: what the core sees of Telegram, WhatsApp and the web chat.

A channel module turns a provider payload into an ``Inbound`` and an ``Outbound`` into
a provider API call; nothing outside ``bot/channels/`` knows what a provider payload
looks like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Inbound:
    """One message a person sent, as received from a channel.

    ``address`` is the channel address (a Telegram chat id, ``whatsapp:+32...``);
    ``provider_message_id`` is unique per channel and de-duplicates replays.
    ``button`` is the payload of a pressed button; media (voice, image, sticker,
    location...) comes as ``media_type`` plus a ``media_ref`` staff can fetch later.
    A location keeps ``media_type="location"`` and never its coordinates.
    """

    channel: str
    address: str
    provider_message_id: str
    text: str | None
    button: str | None
    media_type: str | None
    media_ref: str | None
    received_at: datetime


@dataclass
class Button:
    payload: str
    title: str


@dataclass
class Outbound:
    """One message to send: text with optional buttons, or an approved template."""

    address: str
    text: str
    buttons: list[Button] = field(default_factory=list)
    template_sid: str | None = None
