"""Telegram through python-telegram-bot: webhook updates in, the Bot API out.

python-telegram-bot is the transport only (parsing updates, calling the Bot API);
our own flow engine holds the conversation. The Bot API base comes from
``HELPLINE_TELEGRAM_API_URL`` (the token is appended), so tests and air-gapped
deployments point it at another server. python-telegram-bot is imported when
Telegram is first used, so a deployment without Telegram never loads it.
"""

from __future__ import annotations

import hmac
import logging
import mimetypes
import os
import warnings
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, BackgroundTasks, Request, Response

from bot.channels.base import NEVER_SENT, Channel, SendError
from bot.channels.webhook import accept, read_body, reject
from bot.config import Settings
from bot.deps import ChannelsDep, SettingsDep, WakeupDep, WriterDep
from bot.messages import Inbound, Outbound
from bot.models import utcnow
from bot.ops.security import JsonTooDeep, load_json
from bot.privacy.addresses import address_hash

if TYPE_CHECKING:
    from telegram import Bot, InlineKeyboardMarkup, Message, Update
    from telegram.error import RetryAfter, TelegramError

# python-telegram-bot 22 warns whenever it builds a RetryAfter (its int-or-timedelta
# migration) unless the process opts in to timedelta durations, which we handle.
os.environ.setdefault("PTB_TIMEDELTA", "true")

KIND = "telegram"
POLL_SECONDS = 25

log = logging.getLogger(__name__)


# --- updates --------------------------------------------------------------------


def parse_update(data: object, bot: Bot | None = None) -> Update:
    """An ``Update`` from the webhook's JSON body; ``ValueError`` when malformed."""
    from telegram import Update

    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise ValueError("not a Telegram update")
    try:
        update = Update.de_json(data, bot)
    except Exception as exc:  # de_json raises whatever the malformed field provokes
        raise ValueError(f"malformed Telegram update: {type(exc).__name__}") from exc
    if update is None:
        raise ValueError("empty Telegram update")
    return update


def to_inbound(update: Update, *, received_at: datetime) -> Inbound | None:
    """The channel-neutral message in an update, or None when there is nothing to store.

    Updates that are not a person writing (a bot added to a group, a poll closing,
    a member change) and messages outside private chats (the helpline is one-to-one;
    a group must not see anyone's question) carry nothing to store.
    A location keeps no coordinates; a shared contact card keeps no phone number.
    ``ValueError`` when a field has the wrong type: python-telegram-bot builds its
    objects from whatever JSON it is given without checking.
    """
    provider_id = str(update.update_id)
    query = update.callback_query
    if query is not None:
        chat = query.message.chat if query.message is not None else None
        if chat is not None and _private(chat.type) is False:
            return None
        sender = chat.id if chat is not None else getattr(query.from_user, "id", None)
        address = _chat_id(sender)
        return Inbound(
            KIND, address, provider_id, None, _text(query.data) or "", None, None, received_at
        )
    message = update.message or update.edited_message
    if message is None:
        return None
    chat = message.chat
    if chat is None:
        raise ValueError("a message without a chat")
    if not _private(chat.type):
        return None
    address = _chat_id(chat.id)
    media_type, media_ref = _media(message)
    text = _text(message.text) or _text(message.caption)
    if text is None and media_type is None:
        media_type = "unsupported"  # a poll, a dice, a game: never silently ignored
    return Inbound(KIND, address, provider_id, text, None, media_type, media_ref, received_at)


def _private(chat_type: object) -> bool:
    if not isinstance(chat_type, str):
        raise ValueError("a chat type that is not text")
    return chat_type == "private"


def _chat_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("a chat id that is not a number")
    return str(value)


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("a text that is not text")
    return value


def _media(message: Message) -> tuple[str | None, str | None]:
    try:
        media_type, media_ref = _media_of(message)
    except (AttributeError, IndexError, TypeError) as exc:  # e.g. "photo": 5
        raise ValueError(f"malformed media: {type(exc).__name__}") from exc
    if not isinstance(media_type, str | None) or not isinstance(media_ref, str | None):
        raise ValueError("malformed media: a type or file id that is not text")
    return media_type, media_ref


def _media_of(message: Message) -> tuple[str | None, str | None]:
    if message.voice:
        return message.voice.mime_type or "audio/ogg", message.voice.file_id
    if message.audio:
        return message.audio.mime_type or "audio/mpeg", message.audio.file_id
    if message.video_note:
        return "video/mp4", message.video_note.file_id
    if message.video:
        return message.video.mime_type or "video/mp4", message.video.file_id
    if message.animation:
        return message.animation.mime_type or "video/mp4", message.animation.file_id
    if message.photo:
        return "image/jpeg", message.photo[-1].file_id  # the largest size
    if message.sticker:
        sticker = message.sticker
        if sticker.is_animated:
            return "application/x-tgsticker", sticker.file_id
        return ("video/webm" if sticker.is_video else "image/webp"), sticker.file_id
    if message.document:
        return message.document.mime_type or "application/octet-stream", message.document.file_id
    if message.location or message.venue:
        return "location", None
    if message.contact:
        return "contact", None
    return None, None


# --- sending --------------------------------------------------------------------


def file_url(api_url: str) -> str:
    """The file download base that goes with a Bot API base (``.../bot`` -> ``.../file/bot``)."""
    base = api_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file/bot"


def keyboard(outbound: Outbound) -> InlineKeyboardMarkup | None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    if not outbound.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.title, callback_data=b.payload)] for b in outbound.buttons]
    )


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # the int/timedelta migration warns on access
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel(Channel):
    kind = KIND
    max_text = 4096  # Bot API limit for a message text

    def __init__(self, settings: Settings) -> None:
        from telegram import Bot
        from telegram.request import HTTPXRequest

        self.settings = settings
        timeout = settings.provider_timeout_seconds
        self._request = HTTPXRequest(
            connection_pool_size=16,  # Telegram allows ~30 messages/s per bot anyway
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        self._updates_request = HTTPXRequest(
            connection_pool_size=1, read_timeout=POLL_SECONDS + timeout, connect_timeout=timeout
        )
        self.bot = Bot(
            settings.telegram_token,
            base_url=settings.telegram_api_url,
            base_file_url=file_url(settings.telegram_api_url),
            request=self._request,
            get_updates_request=self._updates_request,
        )

    def provider_id(self, chat_id: str, message_id: int) -> str:
        # Telegram numbers messages per chat; a keyed hash of the chat makes the id
        # unique in our table without storing the chat id in clear.
        return f"{address_hash(self.settings, KIND, chat_id)[:16]}:{message_id}"

    async def send(self, outbound: Outbound) -> str:
        from telegram.error import (
            BadRequest,
            ChatMigrated,
            Forbidden,
            RetryAfter,
            TelegramError,
            TimedOut,
        )

        try:
            message = await self.bot.send_message(
                chat_id=outbound.address, text=outbound.text, reply_markup=keyboard(outbound)
            )
        except RetryAfter as exc:
            raise SendError(str(exc), retry_after=retry_after_seconds(exc)) from exc
        except (Forbidden, BadRequest, ChatMigrated) as exc:
            # blocked by the person, chat not found, deactivated user, bad payload
            raise SendError(f"telegram: {exc.message}"[:500], permanent=True) from exc
        except TimedOut as exc:
            # The request may have been answered after we stopped waiting. The Bot API
            # cannot be asked (``find_sent``), so the retry may double the message.
            raise SendError("telegram timed out", in_doubt=_no_answer(exc)) from exc
        except TelegramError as exc:  # NetworkError (5xx, connection), InvalidToken, ...
            raise SendError(f"telegram: {exc.message}"[:500], in_doubt=_no_answer(exc)) from exc
        return self.provider_id(outbound.address, message.message_id)

    async def answer_callback(self, callback_query_id: str) -> None:
        """Stop the spinner on a pressed inline button; a failure here costs nothing."""
        from telegram.error import TelegramError

        try:
            await self.bot.answer_callback_query(callback_query_id)
        except TelegramError as exc:
            log.info("answerCallbackQuery failed: %s", type(exc).__name__)

    async def fetch_media(self, media_ref: str) -> tuple[bytes, str]:
        from telegram.error import BadRequest, Forbidden, TelegramError

        try:
            file = await self.bot.get_file(media_ref)
            data = await file.download_as_bytearray()
        except (Forbidden, BadRequest) as exc:
            raise SendError(f"telegram: {exc.message}", permanent=True) from exc
        except TelegramError as exc:
            raise SendError(f"telegram: {exc.message}") from exc
        content_type = mimetypes.guess_type(file.file_path or "")[0]
        return bytes(data), content_type or "application/octet-stream"

    async def aclose(self) -> None:
        await self._request.shutdown()
        await self._updates_request.shutdown()


def _no_answer(exc: TelegramError) -> bool:
    """A connection lost after the request left: Telegram may have sent the message."""
    cause = exc.__cause__
    return isinstance(cause, httpx.TransportError) and not isinstance(cause, NEVER_SENT)


def from_settings(settings: Settings) -> TelegramChannel | None:
    if not settings.telegram_token:
        return None
    return TelegramChannel(settings)


TRANSPORT = TelegramChannel


# --- webhook route ------------------------------------------------------------------

router = APIRouter(prefix="/webhooks", tags=["webhooks"], include_in_schema=False)


def _secret_matches(settings: Settings, given: str) -> bool:
    expected = settings.telegram_webhook_secret
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@router.post("/telegram")
async def telegram_update(
    request: Request,
    settings: SettingsDep,
    channels: ChannelsDep,
    writer: WriterDep,
    wakeup: WakeupDep,
    background: BackgroundTasks,
) -> Response:
    if not _secret_matches(settings, request.headers.get("x-telegram-bot-api-secret-token", "")):
        raise reject(403, KIND, "bad or missing secret token")
    body = await read_body(request, settings.webhook_max_bytes, KIND)
    channel = channels.get(KIND)
    bot = channel.bot if isinstance(channel, TelegramChannel) else None
    try:
        data = load_json(body)
    except JsonTooDeep as exc:
        raise reject(400, KIND, "JSON nested too deeply") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise reject(400, KIND, "malformed JSON") from exc
    try:
        update = parse_update(data, bot)
        inbound = to_inbound(update, received_at=utcnow())
    except ValueError as exc:
        raise reject(422, KIND, str(exc)) from exc
    if inbound is not None:
        await accept(inbound, writer, wakeup)
    if update.callback_query is not None and isinstance(channel, TelegramChannel):
        background.add_task(channel.answer_callback, update.callback_query.id)
    return Response(status_code=200)
