"""The channel registry: kind -> Channel, built from settings.

Each entry names a module function ``from_settings(settings) -> Channel | None``
(None when the channel is not configured, e.g. no Telegram token). Adding a channel
is one module plus one line here. Modules are imported lazily so that a deployment
without Telegram never imports python-telegram-bot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module

from bot.channels.base import Channel, SendError
from bot.config import Settings

__all__ = ["FACTORIES", "Channel", "Channels", "SendError", "build_channels"]

FACTORIES: dict[str, str] = {
    "telegram": "bot.channels.telegram:from_settings",
    "whatsapp": "bot.channels.whatsapp:from_settings",
    "webchat": "bot.channels.webchat.channel:from_settings",
}


class Channels:
    """The configured channels of one process; close it to release connections."""

    def __init__(self, channels: dict[str, Channel]) -> None:
        self._channels = dict(channels)

    def get(self, kind: str) -> Channel | None:
        return self._channels.get(kind)

    def __getitem__(self, kind: str) -> Channel:
        return self._channels[kind]

    def __contains__(self, kind: object) -> bool:
        return kind in self._channels

    def __iter__(self) -> Iterator[str]:
        return iter(self._channels)

    async def aclose(self) -> None:
        for channel in self._channels.values():
            await channel.aclose()


def _factory(dotted: str) -> Callable[[Settings], Channel | None]:
    module, _, name = dotted.partition(":")
    factory: Callable[[Settings], Channel | None] = getattr(import_module(module), name)
    return factory


def build_channels(settings: Settings) -> Channels:
    channels: dict[str, Channel] = {}
    for kind, dotted in FACTORIES.items():
        channel = _factory(dotted)(settings)
        if channel is not None:
            channels[kind] = channel
    return Channels(channels)
