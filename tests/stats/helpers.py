"""Small builders for the statistics tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.models import Conversation
from bot.stats.records import import_records, read_import, sync_record

BRUSSELS = ZoneInfo("Europe/Brussels")
FIXTURE_2024 = Path(__file__).parent.parent / "fixtures" / "stats" / "infolijn-2024.csv"


def import_file(session: Session, path: Path, now: datetime) -> int:
    with path.open(encoding="utf-8", newline="") as lines:
        return import_records(session, read_import(lines, BRUSSELS), now=now)


def chat(
    session: Session,
    settings: Settings,
    address: str,
    opened_at: datetime,
    *,
    channel: str = "telegram",
    language: str = "ps",
) -> Conversation:
    """A conversation the bot has just opened, with its contact record."""
    contact = get_or_create_contact(session, settings, channel, address)
    conversation = Conversation(
        contact_id=contact.id,
        channel=channel,
        language=language,
        opened_at=opened_at,
        last_message_at=opened_at,
    )
    session.add(conversation)
    session.flush()
    sync_record(session, conversation)
    return conversation
