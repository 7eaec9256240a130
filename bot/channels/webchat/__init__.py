"""The web chat: the ``/try`` page (``routes``) and its transport (``channel``)."""

from bot.channels.webchat.channel import WebchatChannel, from_settings
from bot.channels.webchat.routes import router

TRANSPORT = WebchatChannel

__all__ = ["TRANSPORT", "from_settings", "router"]
