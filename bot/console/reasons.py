"""Why a person waits for staff, in words a staff member reads at a glance in the queue.

From what the bot recorded at the handoff: the reason (``handoff_reason``, set by the
flow that handed over), the kind of emergency the matcher saw (``urgent_kind``), and
the topic the bot was answering (``topic``), shown by its title.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.console.i18n import N_
from bot.models import Conversation

REASONS = {
    "asked": N_("asked for a person"),
    "not_helpful": N_("the answer did not help"),
    "staff_only": N_("only staff can answer"),
    "abstained": N_("the bot had no answer"),
}
URGENT = N_("urgent")
URGENT_KINDS = {
    "self_harm": N_("urgent: suicide risk"),
    "sexual_violence": N_("urgent: sexual violence"),
    "trafficking": N_("urgent: human trafficking"),
    "child_missing": N_("urgent: missing child"),
    "child_alone": N_("urgent: child alone"),
    "domestic_violence": N_("urgent: domestic violence"),
}


def reason(conversation: Conversation) -> str | None:
    """Why the conversation went to staff: a message id to translate, or None."""
    if conversation.urgent:
        return URGENT_KINDS.get(conversation.urgent_kind or "", URGENT)
    return REASONS.get(conversation.handoff_reason or "")


def topic_title(conversation: Conversation, topic_titles: Mapping[str, str]) -> str | None:
    """The title of the topic the bot was answering, if it had one (not "urgent")."""
    topic = conversation.topic
    return topic_titles.get(topic) if topic and topic != "urgent" else None
