"""``helpline chat``: talk to the bot in the terminal, through the same inbox and flows.

The terminal is a webchat contact of its own. Buttons are printed as numbered
options; typing the number presses the button.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import typer
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot import db, inbox
from bot.config import Settings, get_settings
from bot.conversations import find_contact
from bot.dialogue.engine import FlowEngine
from bot.i18n import strip_isolates
from bot.messages import Inbound
from bot.models import Conversation, Direction, Message, Sender, utcnow


def chat() -> None:
    """Chat with the bot here, as a person would on WhatsApp or Telegram (Ctrl-D ends)."""
    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    ready, detail = db.is_ready(engine)
    if not ready:
        typer.echo(f"{detail}: run `helpline db upgrade` first", err=True)
        raise typer.Exit(1)
    typer.echo("Write to the bot (Ctrl-D to stop). Type a number to press a button.")
    try:
        chat_loop(engine, settings, _read, typer.echo)
    finally:
        engine.dispose()


def _read() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None


def chat_loop(
    engine: Engine,
    settings: Settings,
    read: Callable[[], str | None],
    write: Callable[[str], None],
    *,
    address: str | None = None,
    flows: FlowEngine | None = None,
    clock: Callable[[], datetime] = utcnow,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """Read lines until ``read`` returns None; write the bot's answers."""
    address = address or f"terminal-{uuid.uuid4().hex[:12]}"
    seen = 0
    buttons: list[dict[str, str]] = []
    while (line := read()) is not None:
        line = line.strip()
        if not line:
            continue
        button = _numbered(line, buttons)
        received_at = clock()
        inbound = Inbound(
            "webchat",
            address,
            f"terminal-{uuid.uuid4().hex}",
            None if button else line,
            button,
            None,
            None,
            received_at,
        )
        inbox.receive(engine, settings, inbound)
        pause(settings.debounce_seconds)  # as if the person paused: answer now
        due = max(clock(), received_at + timedelta(seconds=settings.debounce_seconds))
        inbox.process_due(engine, settings, now=due, flows=flows)
        for message in _bot_messages(engine, settings, address, seen):
            seen = message.id or seen
            write(strip_isolates(message.text or ""))
            buttons = message.buttons or []
            for number, option in enumerate(buttons, start=1):
                write(f"  [{number}] {strip_isolates(option['title'])}")


def _numbered(line: str, buttons: list[dict[str, str]]) -> str | None:
    if line.isdigit() and 1 <= int(line) <= len(buttons):
        return buttons[int(line) - 1]["payload"]
    return None


def _bot_messages(engine: Engine, settings: Settings, address: str, after: int) -> list[Message]:
    with Session(engine) as session:
        contact = find_contact(session, settings, "webchat", address)
        if contact is None:
            return []
        return list(
            session.exec(
                select(Message)
                .join(Conversation, col(Conversation.id) == Message.conversation_id)
                .where(
                    Conversation.contact_id == contact.id,
                    Message.direction == Direction.outbound,
                    Message.sender != Sender.user,
                    col(Message.id) > after,
                )
                .order_by(col(Message.id))
            ).all()
        )
