"""The channel contract: one small base class every transport implements.

A channel module (``bot/channels/<kind>.py`` or a package) provides three names,
and one line in ``bot.channels.REGISTRY`` makes it part of the service:

- ``TRANSPORT``: its ``Channel`` subclass; the class attributes below tell the core
  what differs between providers (text length, reply window, anonymous writers), so
  that nothing outside ``bot/channels/`` asks which provider a conversation is on;
- ``from_settings(settings)``: the configured transport, or None (no credentials);
- ``router``: its FastAPI routes (the provider's webhook), mounted by the app.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from bot.config import Settings

import httpx

from bot.messages import Outbound

# Transport failures after which a provider cannot have a message: the request never
# left whole. After any other failure without an answer, it may have.
NEVER_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
)


class SendError(Exception):
    """Sending failed.

    ``permanent`` is True for failures not worth retrying (the person blocked the
    bot, the number does not exist, they unsubscribed); the outbox then marks the
    message "failed" for staff to see. Otherwise the outbox retries with backoff,
    waiting at least ``retry_after`` seconds when the provider said so (HTTP 429).
    ``in_doubt`` is True when the request may have reached the provider and been
    accepted although no answer came back (a read timeout, a connection closed after
    the request was written): before sending again the outbox asks the provider
    (``Channel.find_sent``) where it can.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        in_doubt: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.in_doubt = in_doubt


class Channel:
    """A transport to people on one provider.

    ``kind`` is the same string in URLs, the database, the registry and fixture
    folders: "telegram", "whatsapp", "webchat".

    ``send`` delivers one outbound message and returns the provider's message id;
    it raises ``SendError`` (and nothing else for a provider or network failure).
    ``find_sent`` answers, for a message whose earlier attempt may have reached the
    provider unrecorded, which messages the provider accepted for that address since
    ``since`` that look like it (its ids, oldest first); ``None`` when the provider
    cannot be asked (the Telegram Bot API keeps no list of sent messages).
    ``fetch_media`` returns the bytes and content type behind an inbound
    ``media_ref``, for the staff console. ``aclose`` releases connections.
    """

    kind: ClassVar[str] = ""
    max_text: ClassVar[int] = 4096
    """The longest text one message may carry; the outbox splits longer ones."""
    reply_window: ClassVar[timedelta | None] = None
    """How long after the person's last message free text may be sent (WhatsApp's 24
    hours); after it only an approved template (``template_sid``) reopens the window."""
    anonymous: ClassVar[bool] = False
    """Anyone can write without an account of their own (the /try page): the staff queue
    puts such conversations below the others or leaves them out
    (``HELPLINE_WEBCHAT_QUEUE``)."""

    @classmethod
    def template_sid(cls, settings: Settings, language: str) -> str | None:
        """The approved template that reopens a closed reply window, in this language."""
        return None

    async def send(self, outbound: Outbound) -> str:
        raise NotImplementedError

    async def find_sent(self, outbound: Outbound, since: datetime) -> list[str] | None:
        return None

    async def fetch_media(self, media_ref: str) -> tuple[bytes, str]:
        raise SendError(f"{self.kind} keeps no media", permanent=True)

    async def aclose(self) -> None:
        return None
