"""What a flow can do besides talking (``do:``) and the conditions it tests (``if:``).

Each action takes the running turn (``engine.Run``) and changes the contact or the
conversation: set the language, record consent, keep or answer the first question,
set the topic, hand over to staff, erase the person's data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.config import LANGUAGES
from bot.handoff import HandoffResult, request_handoff, waiting_before
from bot.nlu.text import normalize
from bot.privacy.erasure import erase_but_goodbye

if TYPE_CHECKING:
    from bot.dialogue.engine import Run


def _is_language(payload: str | None) -> bool:
    return bool(payload) and str(payload).startswith("lang:")


# --- actions: what a flow can do besides talking -------------------------------------


def _set_language(run: Run) -> None:
    lang = (run.payload or "").removeprefix("lang:")
    if lang in LANGUAGES:
        run._set_language(lang, chosen=True)


def _give_consent(run: Run) -> None:
    run.contact.consent_at = run.now


def _keep_pending(run: Run) -> None:
    run.keep_pending()


def _answer_pending(run: Run) -> None:
    text, button = run.pop_pending()
    run.text, run.payload = text or "", button
    if button:
        flow = run.flows.for_button(button)
        if flow is not None:
            run.begin(flow)
    elif text:
        chosen = run.flows.for_command(text) or run.flows.for_phrase(normalize(text))
        if chosen is not None:
            run.begin(chosen)
        else:
            run.route(run.engine.matcher.match(text, lang=run.lang))


def _set_topic(run: Run) -> None:
    if run.payload and run.payload.startswith("topic:"):
        run.topic = run.payload.removeprefix("topic:")
    if run.topic and run.topic not in run.engine.knowledge.topics:
        run.topic = None
    run.conversation.topic = run.conversation.topic or run.topic


def _handoff(run: Run, *, reason: str, urgent: bool = False) -> None:
    conversation = run.conversation
    webchat_queue = run.engine.settings.webchat_queue
    if urgent:
        conversation.topic = "urgent"
    run.handoff = request_handoff(
        run.session,
        conversation,
        reason=reason,
        urgent=urgent,
        hours=run.engine.hours,
        now=run.now,
        webchat_queue=webchat_queue,
    )
    run.contact.flow, run.contact.flow_step = None, None
    if not run.handoff.queued:
        return  # a web chat the queue does not take: the flow says so
    run.values["waiting"] = waiting_before(run.session, conversation, webchat_queue=webchat_queue)
    if run.handoff.next_opening is not None:
        seconds = (run.handoff.next_opening - run.now).total_seconds()
        run.values["hours"] = max(1, math.ceil(seconds / 3600))
        run.values["back"] = run.speaker.when(
            run.handoff.next_opening, run.engine.settings.timezone
        )


def _erase(run: Run) -> None:
    erase_but_goodbye(run.session, run.contact, run.conversation, now=run.now)


ACTIONS: dict[str, Callable[..., None]] = {
    "set_language": _set_language,
    "give_consent": _give_consent,
    "keep_pending": _keep_pending,
    "answer_pending": _answer_pending,
    "set_topic": _set_topic,
    "handoff": _handoff,
    "erase": _erase,
}

CONDITIONS: dict[str, Callable[[Run], bool]] = {
    "no_language": lambda run: run.contact.language is None,
    "has_language": lambda run: run.contact.language is not None,
    "no_consent": lambda run: run.contact.consent_at is None,
    "has_pending": lambda run: bool(
        (run.contact.flow_data or {}).keys() & {"pending", "pending_button"}
    ),
    "no_pending": lambda run: (
        not (run.contact.flow_data or {}).keys() & {"pending", "pending_button"}
    ),
    "language_button": lambda run: _is_language(run.payload),
    "has_candidates": lambda run: bool(run._candidates()),
    "no_candidates": lambda run: not run._candidates(),
    "open_now": lambda run: (queued := _queued(run)) is not None and queued.open_now,
    "first_closed_notice": lambda run: (
        (queued := _queued(run)) is not None and queued.notify_after_hours
    ),
    "closed_notice_given": lambda run: (
        (queued := _queued(run)) is not None
        and not queued.open_now
        and not queued.notify_after_hours
    ),
    "not_queued": lambda run: run.handoff is not None and not run.handoff.queued,
}


def _queued(run: Run) -> HandoffResult | None:
    """The handoff of this turn, if it put the conversation in the queue."""
    return run.handoff if run.handoff is not None and run.handoff.queued else None
