"""The web chat: the ``/try`` page and ``helpline chat`` in a terminal.

Nothing leaves the server: "sending" only records the message as sent, and the page
fetches what was sent (``bot/channels/webchat/routes.py``). It is always configured, so that anyone
can try the whole bot without a Telegram or Twilio account.
"""

from __future__ import annotations

import uuid

from bot.channels.base import Channel
from bot.config import Settings
from bot.messages import Outbound


class WebchatChannel(Channel):
    kind = "webchat"
    anonymous = True

    async def send(self, outbound: Outbound) -> str:
        return f"webchat-{uuid.uuid4().hex}"


def from_settings(settings: Settings) -> WebchatChannel:
    return WebchatChannel()
