"""The channel registry: kind -> the module that carries it.

A channel module names its transport (``TRANSPORT``, a ``Channel`` subclass), builds
it from settings (``from_settings``, None when not configured) and brings its
webhook routes (``router``); ``bot/channels/base.py`` states the contract. Adding a
channel is that module plus one line in ``REGISTRY``. Modules are imported when
first needed, and python-telegram-bot only when Telegram is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from types import ModuleType

from fastapi import APIRouter

from bot.channels.base import Channel, SendError
from bot.config import Settings

__all__ = ["REGISTRY", "Channel", "Channels", "SendError", "build_channels", "routers", "transport"]

REGISTRY: dict[str, str] = {
    "telegram": "bot.channels.telegram",
    "whatsapp": "bot.channels.whatsapp",
    "webchat": "bot.channels.webchat",
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


def _module(kind: str) -> ModuleType:
    return import_module(REGISTRY[kind])


def transport(kind: str) -> type[Channel]:
    """The transport class of a kind, for what differs between providers (limits,
    reply window); the base ``Channel`` for a kind no longer registered."""
    if kind not in REGISTRY:
        return Channel
    cls: type[Channel] = _module(kind).TRANSPORT
    return cls


def routers() -> list[APIRouter]:
    """Every registered channel's webhook routes."""
    found: list[APIRouter] = []
    for kind in REGISTRY:
        router: APIRouter | None = getattr(_module(kind), "router", None)
        if router is not None:
            found.append(router)
    return found


def build_channels(settings: Settings) -> Channels:
    channels: dict[str, Channel] = {}
    for kind in REGISTRY:
        channel: Channel | None = _module(kind).from_settings(settings)
        if channel is not None:
            channels[kind] = channel
    return Channels(channels)
