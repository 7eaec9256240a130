"""The staff console under ``/console``: login, the queue, conversations, the audit log."""

from __future__ import annotations

from fastapi import APIRouter

from bot.console import admin, conversation, login, queue, snippets, static

router = APIRouter()
for part in (login, queue, conversation, snippets, admin, static):
    router.include_router(part.router)

__all__ = ["router"]
