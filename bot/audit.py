"""The audit log: what staff did, for admins to review.

An entry names the action, the staff member and what it touched (``conversation:12``,
``contact:4``, ``staff:3``); it never holds a message text or a channel address.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from bot.models import AuditEntry, utcnow


class Action(StrEnum):
    login = "login"
    login_failed = "login_failed"
    logout = "logout"
    claim = "claim"
    release = "release"
    transfer = "transfer"
    close = "close"
    reply = "reply"
    note = "note"
    reveal = "reveal"
    export = "export"
    erase = "erase"
    staff_added = "staff_added"
    password_changed = "password_changed"
    machine_translation = "machine_translation"
    broadcast = "broadcast"
    broadcast_cancelled = "broadcast_cancelled"
    broadcaster = "broadcaster"  # the permission to broadcast given or taken


def record(
    session: Session,
    action: str,
    *,
    staff_id: int | None,
    target: str | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=now or utcnow(),
        staff_id=staff_id,
        action=action[:32],
        target=target[:64] if target else None,
        detail=detail[:500] if detail else None,
    )
    session.add(entry)
    return entry


def recent(
    session: Session, *, limit: int = 100, before_id: int | None = None, action: str | None = None
) -> list[AuditEntry]:
    """The newest entries first; ``before_id`` pages back."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if before_id is not None:
        query = query.where(col(AuditEntry.id) < before_id)
    if action:
        query = query.where(col(AuditEntry.action) == action)
    return list(session.exec(query).all())
