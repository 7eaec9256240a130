"""FastAPI dependencies as named aliases: what a route needs from the running app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Engine
from sqlmodel import Session

from bot.channels import Channels
from bot.config import Settings
from bot.inbox import DirectWriter, Writer
from bot.worker import Wakeup


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_channels(request: Request) -> Channels:
    """The configured channels (none until the app's lifespan has started)."""
    channels: Channels = request.app.state.channels
    return channels


def get_writer(request: Request) -> Writer:
    """The group-commit writer of the running app, or one transaction per message."""
    writer: Writer | None = request.app.state.inbound_writer
    if writer is None:
        return DirectWriter(request.app.state.engine, request.app.state.settings)
    return writer


def get_wakeup(request: Request) -> Wakeup:
    """Wakes the worker's jobs now (a message to answer, a reply to send)."""
    wakeup: Wakeup = request.app.state.wakeup
    return wakeup


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
ChannelsDep = Annotated[Channels, Depends(get_channels)]
WriterDep = Annotated[Writer, Depends(get_writer)]
WakeupDep = Annotated[Wakeup, Depends(get_wakeup)]

# The largest id a row can have: the ids are INTEGER columns, 32 bits on PostgreSQL (which
# refuses a larger number even to compare with them) and 64 on SQLite. A larger number in
# a URL or a form is the client's mistake (4xx), not a driver error (500).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
