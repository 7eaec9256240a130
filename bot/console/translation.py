"""Translation help in the console: a person's message shown in the staff member's
language, and a staff draft put into the person's language for review.

Both answer JSON for the console's script (``translate.js``) and only when
``HELPLINE_TRANSLATE_URL`` is set. A draft's translation is only ever returned to the
reply box: sending stays the staff member's act. Each request is in the audit log
(which message, or which conversation's draft: never the text).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import JSONResponse

from bot import audit
from bot.config import Settings
from bot.console.auth import CurrentStaff
from bot.console.i18n import N_
from bot.console.routing import console_router
from bot.console.templating import translator
from bot.deps import RowId, SessionDep, SettingsDep
from bot.models import Conversation, Direction, Message
from bot.translation import TranslationError, Translator

log = logging.getLogger(__name__)
router = console_router()

MAX_DRAFT = 4000
UNAVAILABLE = N_(
    "The translation service did not answer, so there is no translation now. "
    "Try again in a moment; if it stays down, tell whoever runs it."
)
REFUSED = N_("The translation service refused this text. Try again later or without it.")


def enabled(settings: Settings) -> bool:
    return Translator.from_settings(settings) is not None


def _error(request: Request, status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": translator(request).gettext(message)}, status_code=status)


def _translate(
    request: Request, settings: Settings, text: str, source: str | None, target: str
) -> JSONResponse:
    engine = Translator.from_settings(settings)
    if engine is None:
        return _error(request, 404, N_("Machine translation is not set up."))
    try:
        translated = engine.translate(text, source=source, target=target)
    except TranslationError as exc:
        log.warning("translation failed: %s", exc)
        refused = exc.reason == "refused" and exc.status in (400, 413)
        return _error(request, 502 if refused else 503, REFUSED if refused else UNAVAILABLE)
    return JSONResponse({"translation": translated, "source": source, "target": target})


@router.post("/messages/{message_id}/translate")
def translate_message(
    request: Request,
    message_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
) -> JSONResponse:
    """A person's message in the staff member's console language."""
    message = session.get(Message, message_id)
    if message is None or message.direction != Direction.inbound or not message.text:
        return _error(request, 404, N_("There is no such message, or its text is deleted."))
    conversation = session.get(Conversation, message.conversation_id)
    source = message.language or (conversation.language if conversation else None)
    text = message.text
    audit.record(
        session, audit.Action.machine_translation, staff_id=staff.id, target=f"message:{message_id}"
    )
    session.commit()
    return _translate(request, settings, text, source, staff.locale)


@router.post("/conversations/{conversation_id}/translate-draft")
def translate_draft(
    request: Request,
    conversation_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    text: Annotated[str, Form(max_length=MAX_DRAFT)],
) -> JSONResponse:
    """A staff member's draft in the person's language, for the reply box (never sent)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return _error(request, 404, N_("There is no such conversation."))
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return _error(request, 400, N_("Write your answer first, then translate it."))
    if not conversation.language:
        return _error(request, 400, N_("The person's language is not known yet."))
    target = conversation.language
    audit.record(
        session,
        audit.Action.machine_translation,
        staff_id=staff.id,
        target=f"conversation:{conversation_id}",
        detail="draft",
    )
    session.commit()
    return _translate(request, settings, text, None, target)
