"""Structured logs and Prometheus metrics.

Logs are JSON lines with a request id. They never contain message text or channel
addresses: log the ids of rows instead.

Libraries do not know that: httpx logs every request's URL at INFO, and ours carry
the Telegram bot token (``/bot<token>/sendMessage``) and, in the outbox's Twilio
lookup, the person's number. So the HTTP and provider libraries log warnings only,
and the handler masks tokens, numbers and WhatsApp addresses in whatever reaches it.

``/metrics`` tells login activity and the state of the queue, so it is not for
everyone: with ``HELPLINE_METRICS_TOKEN`` set it answers only a request carrying
``Authorization: Bearer <token>`` (401 otherwise); without a token it is open in
development (``make run``) and answers 404 in every other environment.
"""

from __future__ import annotations

import contextlib
import contextvars
import hmac
import json
import logging
import re
import time
import uuid
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import Engine, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.models import Conversation, Owner, utcnow
from bot.nlu.rasa import NLU_FALLBACKS as NLU_FALLBACKS  # counted by the Rasa backend

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

INBOUND = Counter("helpline_inbound_messages_total", "Inbound messages stored", ["channel"])
OUTBOUND = Counter("helpline_outbound_messages_total", "Outbound messages sent", ["channel"])
OUTBOX_RETRIES = Counter("helpline_outbox_retries_total", "Transient send failures", ["channel"])
OUTBOX_FAILURES = Counter("helpline_outbox_failures_total", "Permanent send failures", ["channel"])
WEBHOOK_DUPLICATES = Counter(
    "helpline_webhook_duplicates_total",
    "Webhooks carrying a message already stored (a provider retry or a replay)",
    ["channel"],
)
OUTBOX_IN_DOUBT = Counter(
    "helpline_outbox_in_doubt_total",
    "Sends that may have reached the provider unrecorded, by what the outbox then did",
    ["channel", "outcome"],
)  # found (recorded, not sent again) | not_found (sent again) | unverifiable (sent again)
MATCHES = Counter(
    "helpline_matcher_outcomes_total", "Matcher outcomes", ["outcome"]
)  # answered | abstained | urgent
QUEUE_LENGTH = Gauge("helpline_queue_length", "Conversations waiting for staff")
QUEUE_OLDEST_WAIT = Gauge("helpline_queue_oldest_wait_seconds", "Longest current wait")
REQUEST_LATENCY = Histogram(
    "helpline_request_seconds", "HTTP request latency", ["method", "route", "status"]
)

router = APIRouter(tags=["observability"])


def _check_scraper(request: Request) -> None:
    """Refuse a request that may not read the metrics (see the module's docstring)."""
    settings: Settings = request.app.state.settings
    token = settings.metrics_token
    if not token:
        if settings.env == "development":
            return
        raise HTTPException(404)
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    _check_scraper(request)
    # The queue is read from the database at scrape time, so every instance reports
    # the same, true figure.
    with contextlib.suppress(SQLAlchemyError):
        waiting, oldest = _queue_now(request.app.state.engine)
        QUEUE_LENGTH.set(waiting)
        QUEUE_OLDEST_WAIT.set((utcnow() - oldest).total_seconds() if oldest else 0)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _queue_now(engine: Engine) -> tuple[int, datetime | None]:
    with Session(engine) as session:
        row = session.exec(
            select(func.count(), func.min(Conversation.queued_at)).where(
                Conversation.owner == Owner.queue
            )
        ).one()
    return int(row[0]), row[1]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key in ("event", "channel", "conversation_id", "message_id", "status", "error"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# Loggers that write request URLs (and at DEBUG, bodies) of the calls to Telegram and
# Twilio: warnings only. /readyz asks alembic for the schema version on every probe.
QUIET_LOGGERS = ("httpx", "httpcore", "telegram", "twilio", "alembic")
_SECRETS = (
    # the bot token in a Bot API path: /bot<token>/method, /file/bot<token>/path
    (re.compile(r"(/bot)[^/\s?#'\"]+"), r"\1***"),
    # a bare bot token
    (re.compile(r"\b\d{5,}:[\w-]{30,}"), "***"),
    # WhatsApp addresses, also URL-encoded (whatsapp%3A%2B32...)
    (re.compile(r"(whatsapp)(:|%3[Aa])[^\s&'\",;)]+"), r"\1\2***"),
    # international phone numbers, also URL-encoded
    (re.compile(r"(\+|%2[Bb])\d[\d ./-]{5,}\d"), r"\1***"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks bot tokens, phone numbers and WhatsApp addresses in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: the handler reports it
            return True
        record.msg, record.args = redact(message), None
        for key in ("error", "event", "status"):
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class RequestContextMiddleware:
    """Give every request an id (or keep the proxy's) and time it (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = (
            headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex[:16]
        )
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            REQUEST_LATENCY.labels(scope.get("method", ""), path, str(status)).observe(
                time.perf_counter() - started
            )
            request_id_var.reset(token)
