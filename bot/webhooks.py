"""Provider webhooks: ``POST /webhooks/telegram``, ``/webhooks/whatsapp`` and its status.

A webhook only authenticates, parses and stores; the reply is the worker's job.
No message is acknowledged before it is stored: a database error answers 503 so
the provider retries, and a replay of a stored message is acknowledged without
storing it twice. Rejections are logged without the body.

Status codes: 403 unsigned or wrongly signed; 413 over ``HELPLINE_WEBHOOK_MAX_BYTES``;
400 not parseable; 422 parseable but not a message; 404 channel not configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Mapping
from urllib.parse import parse_qsl

import anyio
from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from bot import inbox, outbox
from bot.channels import telegram, whatsapp
from bot.config import Settings
from bot.db import session_scope
from bot.deps import EngineDep, SettingsDep
from bot.messages import Inbound
from bot.models import utcnow
from bot.ops import observability

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


class InboundWriter:
    """Stores inbound messages for the webhooks, many per transaction (group commit).

    Concurrent requests hand their message to one writer; it stores whatever has
    arrived in a single transaction through ``inbox.store`` (a savepoint each, so
    one bad message cannot sink the others) and answers every request once the
    transaction is committed. One writer instead of one thread per request means
    no SQLite lock contention and one commit for many messages; each request still
    waits for its own message to be durable before the provider gets its 2xx.
    """

    def __init__(self, engine: Engine, settings: Settings, max_batch: int = 200) -> None:
        self.engine = engine
        self.settings = settings
        self.max_batch = max_batch
        self._pending: list[tuple[Inbound, asyncio.Future[bool]]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def store(self, inbound: Inbound) -> bool:
        """True once stored and committed, False for a message stored before."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inbound-writer")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((inbound, future))
        self._arrived.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                try:
                    results = await anyio.to_thread.run_sync(self._write, [i for i, _ in batch])
                except BaseException as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)

    def _write(self, batch: list[Inbound]) -> list[bool | BaseException]:
        results: list[bool | BaseException] = [False] * len(batch)
        with self.engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Take SQLite's write lock first. A transaction that has read and then
                # writes fails at once ("database is locked") when another connection
                # committed in between; BEGIN IMMEDIATE waits for the lock instead.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                # The session must join *this* transaction: one it began itself would
                # be rolled back when it closes, and the commit below would store nothing.
                connection.begin()
            with Session(
                bind=connection, expire_on_commit=False, join_transaction_mode="rollback_only"
            ) as session:
                # Person by person, in one order on every instance (and each person's
                # messages in the order they came): ``inbox.store`` locks the person
                # first, so two instances' batches wait for each other instead of
                # deadlocking, which would fail both with a 503.
                by_person = sorted(
                    range(len(batch)), key=lambda i: (batch[i].channel, batch[i].address)
                )
                for i in by_person:
                    inbound = batch[i]
                    try:
                        with session.begin_nested():
                            stored = inbox.store(
                                session, self.settings, inbound, now=inbound.received_at
                            )
                        results[i] = stored is not None
                    except SQLAlchemyError:
                        raise  # the database is unwell: the whole batch answers 503
                    except Exception as exc:  # a bug with one message must not fail the rest
                        log.exception("%s message could not be stored", inbound.channel)
                        results[i] = exc
                session.flush()
            connection.commit()
        return results

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _store(engine: Engine, settings: Settings, request: Request, inbound: Inbound) -> bool:
    writer: InboundWriter | None = getattr(request.app.state, "inbound_writer", None)
    try:
        if writer is not None:
            stored = await writer.store(inbound)
        else:  # an app used without its lifespan
            stored = await run_in_threadpool(inbox.receive, engine, settings, inbound)
    except SQLAlchemyError as exc:
        log.error("%s message not stored: %s", inbound.channel, type(exc).__name__)
        raise HTTPException(503, "storage unavailable", headers={"Retry-After": "5"}) from exc
    if not stored:
        # The same message again: a provider retrying (its first answer was lost) or a
        # replay. Neither provider signs a timestamp, so the two look alike; it is
        # stored once and acknowledged, as a non-2xx would make Telegram retry it.
        observability.WEBHOOK_DUPLICATES.labels(inbound.channel).inc()
        log.info("%s message already stored; acknowledged again", inbound.channel)
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
        inbound = telegram.to_inbound(update, received_at=utcnow())
    except ValueError as exc:
        raise _reject(422, "telegram", str(exc)) from exc
    if inbound is not None:
        await _store(engine, settings, request, inbound)
    if update.callback_query is not None and isinstance(channel, telegram.TelegramChannel):
        background.add_task(channel.answer_callback, update.callback_query.id)
    return Response(status_code=200)
