"""Provider webhooks: ``POST /webhooks/telegram``, ``/webhooks/whatsapp`` and its status.

A webhook only authenticates, parses and stores; the reply is the worker's job.
No message is acknowledged before it is stored: a database error answers 503 so
the provider retries, and a replay of a stored message is acknowledged without
storing it twice. Rejections are logged without the body.

Status codes: 403 unsigned or wrongly signed; 413 over ``HELPLINE_WEBHOOK_MAX_BYTES``;
400 not parseable; 422 parseable but not a message; 404 channel not configured.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from urllib.parse import parse_qsl

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot import inbox, outbox
from bot.channels import telegram, whatsapp
from bot.config import Settings
from bot.db import session_scope
from bot.deps import EngineDep, SettingsDep
from bot.messages import Inbound
from bot.models import utcnow

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"], include_in_schema=False)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _reject(status: int, channel: str, reason: str) -> HTTPException:
    log.warning("rejected %s webhook: %s", channel, reason)
    return HTTPException(status, reason)


async def _body(request: Request, limit: int, channel: str) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _reject(413, channel, "body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _reject(413, channel, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _store(engine: Engine, settings: Settings, request: Request, inbound: Inbound) -> bool:
    try:
        stored = await run_in_threadpool(inbox.receive, engine, settings, inbound)
    except SQLAlchemyError as exc:
        log.error("%s message not stored: %s", inbound.channel, type(exc).__name__)
        raise HTTPException(503, "storage unavailable", headers={"Retry-After": "5"}) from exc
    wakeup = getattr(request.app.state, "wakeup", None)
    if stored and wakeup is not None:
        wakeup.set()
    return bool(stored)


# --- WhatsApp ---------------------------------------------------------------------


async def _signed_form(request: Request, settings: Settings) -> dict[str, str]:
    body = await _body(request, settings.webhook_max_bytes, "whatsapp")
    signature = request.headers.get("x-twilio-signature", "")
    if not signature:
        raise _reject(403, "whatsapp", "missing signature")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise _reject(400, "whatsapp", "not a form")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _reject(400, "whatsapp", "malformed form") from exc
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not whatsapp.signature_is_valid(settings, url, form, signature):
        raise _reject(403, "whatsapp", "bad signature")
    return form


def _twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/whatsapp")
async def whatsapp_inbound(request: Request, settings: SettingsDep, engine: EngineDep) -> Response:
    form = await _signed_form(request, settings)
    try:
        inbound = whatsapp.parse_inbound(form, received_at=utcnow())
    except ValueError as exc:
        raise _reject(422, "whatsapp", str(exc)) from exc
    await _store(engine, settings, request, inbound)
    return _twiml()


@router.post("/whatsapp/status")
async def whatsapp_status(request: Request, settings: SettingsDep, engine: EngineDep) -> Response:
    form = await _signed_form(request, settings)
    try:
        sid, status, error = whatsapp.parse_status(form)
    except ValueError as exc:
        raise _reject(422, "whatsapp", str(exc)) from exc
    if status is not None:

        def apply() -> None:
            with session_scope(engine) as session:
                outbox.record_status(session, whatsapp.KIND, sid, status, error)

        try:
            await run_in_threadpool(apply)
        except SQLAlchemyError as exc:
            log.error("whatsapp status not stored: %s", type(exc).__name__)
            raise HTTPException(503, "storage unavailable") from exc
    return _twiml()


# --- Telegram ---------------------------------------------------------------------


def _secret_matches(settings: Settings, given: str) -> bool:
    expected = settings.telegram_webhook_secret
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@router.post("/telegram")
async def telegram_update(
    request: Request, settings: SettingsDep, engine: EngineDep, background: BackgroundTasks
) -> Response:
    if not _secret_matches(settings, request.headers.get("x-telegram-bot-api-secret-token", "")):
        raise _reject(403, "telegram", "bad or missing secret token")
    body = await _body(request, settings.webhook_max_bytes, "telegram")
    channels: Mapping[str, object] | None = getattr(request.app.state, "channels", None)
    channel = channels.get("telegram") if channels is not None else None
    bot = channel.bot if isinstance(channel, telegram.TelegramChannel) else None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _reject(400, "telegram", "malformed JSON") from exc
    try:
        update = telegram.parse_update(data, bot)
    except ValueError as exc:
        raise _reject(422, "telegram", str(exc)) from exc
    inbound = telegram.to_inbound(update, received_at=utcnow())
    if inbound is not None:
        await _store(engine, settings, request, inbound)
    if update.callback_query is not None and isinstance(channel, telegram.TelegramChannel):
        background.add_task(channel.answer_callback, update.callback_query.id)
    return Response(status_code=200)
