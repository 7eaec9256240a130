"""What every provider webhook does alike: read a bounded body, refuse with a logged
reason (never the body), and store before acknowledging.

No message is acknowledged before it is stored: a database error answers 503 so
the provider retries, and a replay of a stored message is acknowledged without
storing it twice. Status codes: 403 unsigned or wrongly signed; 413 over
``HELPLINE_WEBHOOK_MAX_BYTES``; 400 not parseable; 422 parseable but not a message.
"""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request
from sqlalchemy.exc import SQLAlchemyError

from bot.inbox import Writer
from bot.messages import Inbound
from bot.ops import observability
from bot.worker import Wakeup

log = logging.getLogger(__name__)


def reject(status: int, channel: str, reason: str) -> HTTPException:
    log.warning("rejected %s webhook: %s", channel, reason)
    return HTTPException(status, reason)


async def read_body(request: Request, limit: int, channel: str) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise reject(413, channel, "body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise reject(413, channel, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def storage_unavailable(channel: str, exc: SQLAlchemyError) -> HTTPException:
    """503 with Retry-After: the provider (or the page) sends the message again."""
    log.error("%s message not stored: %s", channel, type(exc).__name__)
    return HTTPException(503, "storage unavailable", headers={"Retry-After": "5"})


async def accept(inbound: Inbound, writer: Writer, wakeup: Wakeup) -> bool:
    """Store the message (503 if the database cannot), then wake the worker.

    False for a message stored before: a provider retrying (its first answer was
    lost) or a replay. Neither provider signs a timestamp, so the two look alike; it
    is stored once and acknowledged, as a non-2xx would make Telegram retry it.
    """
    try:
        stored = await writer.store(inbound)
    except SQLAlchemyError as exc:
        raise storage_unavailable(inbound.channel, exc) from exc
    if stored:
        wakeup.set()
    else:
        observability.WEBHOOK_DUPLICATES.labels(inbound.channel).inc()
        log.info("%s message already stored; acknowledged again", inbound.channel)
    return stored
