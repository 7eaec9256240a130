"""The channel contract: one small base class every transport implements."""

from __future__ import annotations

from bot.messages import Outbound


class SendError(Exception):
    """Sending failed.

    ``permanent`` is True for failures not worth retrying (the person blocked the
    bot, the number does not exist, they unsubscribed); the outbox then marks the
    message "failed" for staff to see. Otherwise the outbox retries with backoff,
    waiting at least ``retry_after`` seconds when the provider said so (HTTP 429).
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Channel:
    """A transport to people on one provider.

    ``kind`` is the same string in URLs, the database, the registry and fixture
    folders: "telegram", "whatsapp", "webchat".

    ``send`` delivers one outbound message and returns the provider's message id;
    it raises ``SendError`` (and nothing else for a provider or network failure).
    ``fetch_media`` returns the bytes and content type behind an inbound
    ``media_ref``, for the staff console. ``aclose`` releases connections.
    """

    kind: str = ""

    async def send(self, outbound: Outbound) -> str:
        raise NotImplementedError

    async def fetch_media(self, media_ref: str) -> tuple[bytes, str]:
        raise SendError(f"{self.kind} keeps no media", permanent=True)

    async def aclose(self) -> None:
        return None
