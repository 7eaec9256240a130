"""What a flow can do besides talking (``do:``) and the conditions it tests (``if:``).

Each action takes the running turn (``engine.Run``) and changes the contact or the
conversation: set the language, record consent, keep or answer the first question,
set the topic, record whether an answer helped, mark the conversation for staff
priority, hand over to staff, erase the person's data, stop or restart broadcasts to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.config import LANGUAGES
from bot.handoff import HandoffResult, request_handoff, return_to_staff, waiting_before
from bot.models import AnswerFeedback
from bot.privacy.erasure import erase_but_goodbye

if TYPE_CHECKING:
    from bot.dialogue.engine import Run

NOT_HELPFUL = "not_helpful"  # the handoff reason when the answer did not help


def _is_language(payload: str | None) -> bool:
    return bool(payload) and str(payload).startswith("lang:")


def other_topics(run: Run) -> list[str]:
    """The other topics offered when an answer did not help."""
    feedback = (run.contact.flow_data or {}).get("feedback") or {}
    return [t for t in feedback.get("others") or [] if t in run.engine.knowledge.topics]


def _media_kind(run: Run) -> str | None:
    """What a media message is, for what the bot says it cannot do with it."""
    media = (run.turn.media_type or "").lower()
    if not media:
        return None
    if media.startswith("audio/"):
        return "voice"
    if media.startswith(("image/", "video/")):
        return "picture"
    if media.startswith(("application/", "text/")) and media != "application/x-tgsticker":
        return "file"
    return "other"  # a location, a contact card, an animated sticker, ...


# --- actions: what a flow can do besides talking -------------------------------------


def _set_language(run: Run) -> None:
    lang = (run.payload or "").removeprefix("lang:") if _is_language(run.payload) else ""
    lang = lang or run.named_language or ""
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
        run.match = run.engine.matcher.match(text, lang=run.lang)
        chosen = run._chosen_by_text(text)
        if chosen is not None:
            run.begin(chosen)
        else:
            run.route(run.match)


FEEDBACK_OTHERS = 2  # "did not help": this many other topics are offered


def _set_topic(run: Run) -> None:
    """The topic answered now; kept until the person says whether it helped, with the
    closest other topics (the matcher's, then the knowledge base's related ones)."""
    if run.payload and run.payload.startswith("topic:"):
        run.topic = run.payload.removeprefix("topic:")
    if run.topic and run.topic not in run.engine.knowledge.topics:
        run.topic = None
    run.conversation.topic = run.conversation.topic or run.topic
    data = dict(run.contact.flow_data or {})
    data.pop("feedback", None)
    if run.topic:
        found = run.engine.knowledge.topics[run.topic]
        closest = [*(run.match.candidates if run.match else ()), *found.related]
        others = [t for t in dict.fromkeys(closest) if t != run.topic and run._kind(t) == "faq"]
        data["feedback"] = {"topic": run.topic, "others": others[:FEEDBACK_OTHERS]}
    run.contact.flow_data = data


def _record_feedback(run: Run, *, helped: bool) -> None:
    """Whether the last answer helped, counted per topic (anonymous: no person, no text)."""
    data = dict(run.contact.flow_data or {})
    feedback = data.get("feedback") or {}
    topic = feedback.get("topic") or run.conversation.topic
    if not topic:
        return
    run.session.add(
        AnswerFeedback(
            topic=topic,
            helped=helped,
            language=run.contact.language,
            channel=run.conversation.channel,
            created_at=run.now,
        )
    )
    # Counted once; the others stay offered, and a handoff now says the answer did not help.
    data["feedback"] = {**feedback, "topic": None, "helped": helped}
    run.contact.flow_data = data


def _prioritise(run: Run) -> None:
    """Staff should see this conversation before others that waited longer (not urgent:
    no emergency answer); the queue shows and orders by it once it is handed over."""
    run.conversation.priority = True


def _handoff(run: Run, *, reason: str, urgent: bool = False) -> None:
    conversation = run.conversation
    webchat_queue = run.engine.settings.webchat_queue
    if urgent:
        conversation.topic = "urgent"
        if run.match is not None and run.match.urgent_kind:
            conversation.urgent_kind = run.match.urgent_kind[:32]
    feedback = (run.contact.flow_data or {}).get("feedback") or {}
    if reason == "asked" and feedback.get("helped") is False:
        reason = NOT_HELPFUL  # asked for a person right after saying the answer did not help
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
    _when_back(run)


def _return_to_staff(run: Run) -> None:
    """Back to the staff member who closed the person's last conversation a short while
    ago (``returns_to_staff``); to the queue if that no longer holds."""
    staff_id = run.returning_staff()
    if staff_id is None:
        _handoff(run, reason="asked")
        return
    run.handoff = return_to_staff(
        run.session, run.conversation, staff_id, hours=run.engine.hours, now=run.now
    )
    run.contact.flow, run.contact.flow_step = None, None
    run.values["waiting"] = 0
    _when_back(run)


def _when_back(run: Run) -> None:
    """``hours`` and ``back``: when staff are back, if they are not working now."""
    assert run.handoff is not None
    if run.handoff.next_opening is not None:
        seconds = (run.handoff.next_opening - run.now).total_seconds()
        run.values["hours"] = max(1, math.ceil(seconds / 3600))
        run.values["back"] = run.speaker.when(
            run.handoff.next_opening, run.engine.settings.timezone
        )


def _stop_broadcasts(run: Run) -> None:
    run.contact.broadcasts_opted_out_at = run.contact.broadcasts_opted_out_at or run.now


def _start_broadcasts(run: Run) -> None:
    run.contact.broadcasts_opted_out_at = None


def _erase(run: Run) -> None:
    erase_but_goodbye(run.session, run.contact, run.conversation, now=run.now)


ACTIONS: dict[str, Callable[..., None]] = {
    "set_language": _set_language,
    "give_consent": _give_consent,
    "keep_pending": _keep_pending,
    "answer_pending": _answer_pending,
    "set_topic": _set_topic,
    "record_feedback": _record_feedback,
    "prioritise": _prioritise,
    "handoff": _handoff,
    "return_to_staff": _return_to_staff,
    "erase": _erase,
    "stop_broadcasts": _stop_broadcasts,
    "start_broadcasts": _start_broadcasts,
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
    # a language button pressed, or a language named ("English please")
    "language_button": lambda run: _is_language(run.payload) or run.named_language is not None,
    "has_org_name": lambda run: "org_name" in run.details(),
    "no_org_name": lambda run: "org_name" not in run.details(),
    # replies in a row that answered none of a waiting step's buttons (this one counted)
    "missed_at_most_twice": lambda run: run.unanswered <= 2,
    "missed_more_than_twice": lambda run: run.unanswered > 2,
    "was_asking_consent": lambda run: run.waited_at == ("first_contact", "consent"),
    "has_others": lambda run: bool(other_topics(run)),
    "no_others": lambda run: not other_topics(run),
    "is_voice": lambda run: _media_kind(run) == "voice",
    "is_picture": lambda run: _media_kind(run) == "picture",
    "is_file": lambda run: _media_kind(run) == "file",
    "is_other_media": lambda run: _media_kind(run) == "other",
    # the classifier read a little of an emergency in the message, too little to answer
    # it as one: the answer reminds of the emergency number
    "possible_emergency": lambda run: (
        run.match is not None and run.match.at_risk == "possible_emergency"
    ),
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
    # the person wrote again soon after a staff member closed their last conversation
    "returns_to_staff": lambda run: run.returning_staff() is not None,
    "not_queued": lambda run: run.handoff is not None and not run.handoff.queued,
}


def _queued(run: Run) -> HandoffResult | None:
    """The handoff of this turn, if it put the conversation in the queue."""
    return run.handoff if run.handoff is not None and run.handoff.queued else None
