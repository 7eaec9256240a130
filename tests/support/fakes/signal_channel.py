"""A channel that exists only in the tests: proof that adding one touches no core code.

It is a module like ``bot/channels/telegram.py``: a transport, ``from_settings`` and
a webhook router, registered by a test with one line in ``bot.channels.REGISTRY``.
Its "provider" is the list ``SENT``.
"""

from __future__ import annotations

import itertools

from fastapi import APIRouter, Request, Response

from bot.channels.base import Channel
from bot.channels.webhook import accept, read_body, reject
from bot.config import Settings
from bot.deps import SettingsDep, WakeupDep, WriterDep
from bot.messages import Inbound, Outbound
from bot.models import utcnow

KIND = "signal"
SENT: list[Outbound] = []
_ids = itertools.count(1)


class SignalChannel(Channel):
    kind = KIND
    max_text = 40  # small, so that the outbox's splitting by the transport's limit shows

    async def send(self, outbound: Outbound) -> str:
        SENT.append(outbound)
        return f"signal-{next(_ids)}"


def from_settings(settings: Settings) -> SignalChannel:
    return SignalChannel()


TRANSPORT = SignalChannel
router = APIRouter(prefix="/webhooks")


@router.post("/signal")
async def signal_message(
    request: Request, settings: SettingsDep, writer: WriterDep, wakeup: WakeupDep
) -> Response:
    body = await read_body(request, settings.webhook_max_bytes, KIND)
    sender, _, text = body.decode().partition(":")
    if not sender or not text:
        raise reject(422, KIND, "expected 'sender:text'")
    inbound = Inbound(KIND, sender, f"sig-{next(_ids)}", text, None, None, None, utcnow())
    await accept(inbound, writer, wakeup)
    return Response(status_code=200)
