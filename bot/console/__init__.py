"""The staff console under ``/console``: login, the queue, conversations, the audit log."""

from __future__ import annotations

from fastapi import APIRouter

from bot.console import (
    account,
    admin,
    broadcasts,
    conversation,
    handovers,
    history,
    kb_inbox,
    knowledge,
    login,
    queue,
    snippets,
    static,
    translation,
)

router = APIRouter()
for part in (
    login,
    queue,
    history,
    conversation,
    handovers,
    translation,
    account,
    snippets,
    broadcasts,
    knowledge,
    kb_inbox,
    admin,
    static,
):
    router.include_router(part.router)

__all__ = ["router"]
