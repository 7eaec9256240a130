"""The tables.

Times are aware UTC everywhere (``utcnow()``); SQLModel's ``UTCDateTime`` refuses a
naive datetime, so a local time can never slip in. Enumerations are plain strings
(the classes below name the allowed values) so that a new channel or state needs no
database migration.

Personal data lives in two places only: ``Contact`` (the encrypted channel
address) and ``Message`` (text and media references). ``ContactRecord`` rows are
anonymous by construction and survive retention and erasure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, false
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class ContactChannel(StrEnum):
    """Where a contact came from: a chat channel, or one staff log by hand."""

    whatsapp = "whatsapp"
    telegram = "telegram"
    webchat = "webchat"
    # Logged by staff in the console:
    phone = "phone"
    email = "email"
    qa_session = "qa_session"


class Owner(StrEnum):
    """Who holds a conversation. Exactly one at a time."""

    bot = "bot"
    queue = "queue"
    staff = "staff"
    closed = "closed"


class Direction(StrEnum):
    inbound = "in"
    outbound = "out"
    note = "note"  # internal staff note, never sent


class Sender(StrEnum):
    user = "user"
    bot = "bot"
    staff = "staff"


class MessageStatus(StrEnum):
    received = "received"  # inbound, stored
    queued = "queued"  # outbound, waiting in the outbox
    sending = "sending"  # claimed by an outbox worker
    sent = "sent"  # accepted by the provider
    delivered = "delivered"
    read = "read"
    failed = "failed"  # permanent failure, shown to staff
    cancelled = "cancelled"  # a broadcast message cancelled before it was sent
    held = "held"  # waiting for the person to reopen the WhatsApp 24-hour window
    handled = "handled"  # inbound, processed by the bot (or joined a staff conversation)


class Role(StrEnum):
    staff = "staff"
    editor = "editor"  # a staff member who also edits the knowledge base
    admin = "admin"


class HandledBy(StrEnum):
    bot = "bot"
    staff = "staff"


class Contact(SQLModel, table=True):
    """A pseudonymous person on one channel."""

    __table_args__ = (UniqueConstraint("channel", "address_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    address_hash: str = Field(max_length=64, description="keyed hash of the channel address")
    address_enc: str = Field(description="channel address, encrypted with the data key")
    language: str | None = Field(default=None, max_length=8)
    language_chosen: bool = False
    consent_at: datetime | None = None
    flow: str | None = Field(default=None, max_length=64)
    flow_step: str | None = Field(default=None, max_length=64)
    flow_data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    last_inbound_at: datetime | None = None
    broadcasts_opted_out_at: datetime | None = Field(
        default=None, description="the person asked for no more broadcasts (STOP)"
    )
    # Unused (nothing sets or reads it); stays until a migration drops the column,
    # because this release changes no schema.
    blocked: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(default="", max_length=120)
    password_hash: str
    role: str = Field(default=Role.staff, max_length=10)
    locale: str = Field(default="nl", max_length=8)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
    session_epoch: int = Field(default=0, description="raised on logout: ends every session")
    can_broadcast: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": false()},
        description="may send broadcasts (admins may anyway)",
    )


class Conversation(SQLModel, table=True):
    __table_args__ = (
        Index("ix_conversation_queue", "owner", "urgent", "queued_at"),
        Index("ix_conversation_contact_owner", "contact_id", "owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE")
    channel: str = Field(max_length=20)
    language: str | None = Field(default=None, max_length=8)
    owner: str = Field(default=Owner.bot, max_length=10)
    assignee_id: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    urgent: bool = False
    priority: bool = Field(
        default=False,
        description="staff should take it before others that waited longer, after urgent "
        "ones (set by a flow: e.g. nowhere to sleep tonight)",
    )
    topic: str | None = Field(default=None, max_length=64)
    outcome: str | None = Field(default=None, max_length=32)
    handoff_reason: str | None = Field(default=None, max_length=32)
    urgent_kind: str | None = Field(
        default=None,
        max_length=32,
        description="the kind of emergency the matcher saw (self_harm, trafficking, ...)",
    )
    opened_at: datetime = Field(default_factory=utcnow)
    queued_at: datetime | None = None
    claimed_at: datetime | None = None
    first_response_at: datetime | None = Field(
        default=None, description="the first message a staff member sent (never the bot's)"
    )
    bot_first_response_at: datetime | None = Field(
        default=None, description="the bot's first reply"
    )
    closed_at: datetime | None = None
    last_message_at: datetime = Field(default_factory=utcnow)
    after_hours_notice_at: datetime | None = None
    purged_at: datetime | None = Field(
        default=None, description="message texts deleted by retention"
    )
    flooded_at: datetime | None = Field(
        default=None, description="the person last wrote faster than the inbound limit"
    )


class Message(SQLModel, table=True):
    """One message in a conversation; outbound rows are also the outbox."""

    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id"),
        Index("ix_message_outbox", "status", "next_attempt_at"),
        Index("ix_message_conversation", "conversation_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", ondelete="CASCADE")
    channel: str = Field(max_length=20)
    direction: str = Field(max_length=4)
    sender: str = Field(max_length=8)
    staff_id: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    transfer_to_id: int | None = Field(
        default=None,
        foreign_key="staff_user.id",
        ondelete="SET NULL",
        description="a note that came with a transfer: the colleague it was handed to",
    )
    text: str | None = None
    media_type: str | None = Field(default=None, max_length=64)
    media_ref: str | None = Field(default=None, description="provider URL or file id, for staff")
    buttons: list[dict[str, str]] | None = Field(default=None, sa_column=Column(JSON))
    button: str | None = Field(
        default=None, max_length=128, description="inbound: the payload of the pressed button"
    )
    template_sid: str | None = Field(default=None, max_length=64)
    topic: str | None = Field(default=None, max_length=64)
    score: float | None = None
    language: str | None = Field(default=None, max_length=8)
    provider_message_id: str | None = Field(default=None, max_length=128)
    status: str = Field(default=MessageStatus.received, max_length=10)
    attempts: int = 0
    priority: int = Field(
        default=0,
        sa_column_kwargs={"server_default": "0"},
        description="outbound: lower goes first; replies to people writing now are 0, "
        "bulk work (broadcasts) higher",
    )
    next_attempt_at: datetime | None = None
    in_doubt_since: datetime | None = Field(
        default=None,
        description="outbound: an attempt from this time on may have reached the provider "
        "unrecorded (a crash, a timeout); ask the provider before sending again",
    )
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class BroadcastStatus(StrEnum):
    scheduled = "scheduled"  # waits for its time
    sending = "sending"  # its recipients are being queued in the outbox, in batches
    done = "done"  # every recipient is queued (the outbox sends them)
    cancelled = "cancelled"


class RecipientStatus(StrEnum):
    queued = "queued"  # its message is in the outbox
    skipped = "skipped"  # no text in their language
    cancelled = "cancelled"


class Broadcast(SQLModel, table=True):
    """A message sent to many people at once, each in their language (``bot/broadcasts``)."""

    id: int | None = Field(default=None, primary_key=True)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    scheduled_at: datetime = Field(default_factory=utcnow, index=True)
    status: str = Field(default=BroadcastStatus.scheduled, max_length=10)
    texts: dict[str, str] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False),
        description="the text per language; a language left out is not sent to",
    )
    topic: str | None = Field(default=None, max_length=64, description="a knowledge-base link")
    filters: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False),
        description="the audience: channels, languages, topics, topic_days, since_days",
    )
    targeted: int = Field(default=0, description="people in the audience when it was queued")
    expanded_to: int = Field(
        default=0, description="the highest contact id queued so far (recipients go in batches)"
    )
    finished_at: datetime | None = None
    cancelled_at: datetime | None = None


class BroadcastRecipient(SQLModel, table=True):
    """One person a broadcast went to: at most once per broadcast, whatever ran it."""

    __tablename__ = "broadcast_recipient"
    __table_args__ = (UniqueConstraint("broadcast_id", "contact_id"),)

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcast.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    language: str | None = Field(default=None, max_length=8)
    channel: str = Field(max_length=20)
    message_id: int | None = Field(
        default=None,
        foreign_key="message.id",
        ondelete="SET NULL",
        description="the broadcast's text to them",
    )
    template_message_id: int | None = Field(
        default=None,
        foreign_key="message.id",
        ondelete="SET NULL",
        description="outside WhatsApp's 24 hours: the template sent first (the text waits "
        "for their reply)",
    )
    status: str = Field(default=RecipientStatus.queued, max_length=10)
    queued_at: datetime = Field(default_factory=utcnow)


class ConversationSeen(SQLModel, table=True):
    """How far one staff member has read a conversation: the newest message they saw.

    A conversation with a person's message newer than this is unread for them.
    """

    __tablename__ = "conversation_seen"
    __table_args__ = (UniqueConstraint("staff_id", "conversation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_user.id", ondelete="CASCADE")
    conversation_id: int = Field(foreign_key="conversation.id", ondelete="CASCADE", index=True)
    message_id: int = Field(default=0, description="the newest message id shown to them")


class StaffSnippet(SQLModel, table=True):
    """A staff member's own short text for the reply box ("are you still there?")."""

    __tablename__ = "staff_snippet"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_user.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=80)
    text: str = Field(max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)


class ContactRecord(SQLModel, table=True):
    """One contact, for the statistics. Holds no personal data."""

    __tablename__ = "contact_record"
    # The reports read these indexes and never the table (see bot/stats/reports.py): a
    # period's range, and the groups the reports count in index order (no sorting).
    __table_args__ = (
        Index(
            "ix_contact_record_started",
            "started_at",
            "channel",
            "handled_by",
            "language",
            "topic",
            "first_response_at",
            "closed_at",
        ),
        Index(
            "ix_contact_record_kind",
            "channel",
            "handled_by",
            "handed_off",
            "source",
            "started_at",
            "closed_at",
            "first_response_at",
            "minutes",
            "participants",
        ),
        Index("ix_contact_record_language", "language", "handled_by", "handed_off", "started_at"),
        Index("ix_contact_record_topic", "topic", "handled_by", "handed_off", "started_at"),
        Index(
            "ix_contact_record_times",
            "started_at",
            "channel",
            "handed_off_at",
            "first_response_at",
            "bot_first_response_at",
        ),
        Index("ix_contact_record_outcome", "started_at", "outcome", "channel", "language"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    language: str | None = Field(default=None, max_length=8)
    topic: str | None = Field(default=None, max_length=64)
    handled_by: str = Field(
        default=HandledBy.bot,
        max_length=8,
        description="staff: a staff member answered (for a chat: sent a message); else bot",
    )
    handed_off: bool = Field(default=False, description="the bot moved it to the staff queue")
    urgent: bool = False
    started_at: datetime = Field(default_factory=utcnow)
    handed_off_at: datetime | None = Field(default=None, description="first put in the queue")
    first_response_at: datetime | None = Field(
        default=None, description="a chat's first staff message"
    )
    bot_first_response_at: datetime | None = Field(
        default=None, description="a chat's first bot reply"
    )
    closed_at: datetime | None = None
    outcome: str | None = Field(
        default=None, max_length=32, description="how it was closed (staff's choice, or the bot)"
    )
    minutes: int | None = None
    participants: int | None = None
    place: str | None = Field(default=None, max_length=120)
    conversation_id: int | None = Field(
        default=None, foreign_key="conversation.id", ondelete="SET NULL", unique=True
    )
    staff_id: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    source: str = Field(default="live", max_length=10, description="live, console or import")
    created_at: datetime = Field(default_factory=utcnow)


class AnswerFeedback(SQLModel, table=True):
    """ "Did this help?" answered: per topic, for the statistics and the knowledge base.

    Anonymous by construction, like ``ContactRecord``: no person, no conversation, no
    text; it survives retention and erasure.
    """

    __tablename__ = "answer_feedback"
    __table_args__ = (Index("ix_answer_feedback_topic", "topic", "created_at", "helped"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=64)
    helped: bool
    language: str | None = Field(default=None, max_length=8)
    channel: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """A staff action that admins can review: login, claim, reply, reveal, export, erase."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    staff_id: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    action: str = Field(max_length=32)
    target: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=500)


class JobRun(SQLModel, table=True):
    """Unused: jobs claim their rows instead (``bot/worker.py``). The table stays until a
    migration drops it, because this release changes no schema."""

    __tablename__ = "job_run"

    name: str = Field(primary_key=True, max_length=64)
    last_run_at: datetime | None = None
    locked_until: datetime | None = None


class WebchatStart(SQLModel, table=True):
    """A new web chat contact, counted per client address for ``webchat_new_contacts_per_hour``.

    Holds no address: only its keyed hash, and only for the hour the limit looks back
    (older rows are pruned as new ones are written).
    """

    __tablename__ = "webchat_start"
    __table_args__ = (Index("ix_webchat_start_client", "client_hash", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    client_hash: str = Field(max_length=64, description="keyed hash of the client's network")
    started_at: datetime = Field(default_factory=utcnow, index=True)


class LoginThrottle(SQLModel, table=True):
    """Console login attempts in the current window: per account and client, and per account.

    ``client_hash`` is empty on an account's own row. Holds no e-mail and no address,
    only keyed hashes, the same for an e-mail address with no account, and only while
    a window lasts (older rows are pruned as attempts are counted). See
    ``bot.console.auth``.
    """

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("account_hash", "client_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    account_hash: str = Field(max_length=64, description="keyed hash of the e-mail address")
    client_hash: str = Field(max_length=64, description="keyed hash of the client's network")
    attempts: int = Field(description="counted before the password is checked")
    window_start: datetime = Field(index=True)


class KbRevisionStatus(StrEnum):
    draft = "draft"  # saved, not yet what the bot says
    published = "published"  # what the bot says now (one per topic)
    superseded = "superseded"  # was published or a draft; a newer revision replaced it
    discarded = "discarded"  # a draft thrown away


class KbRevision(SQLModel, table=True):
    """One version of one knowledge-base topic: its whole YAML text, as in
    ``knowledge/<id>.yaml``. Every change is a new row; nothing is updated but the status.

    The topic's published revision is what the bot says; ``kb_state.version`` is raised
    by every publish, and every instance watches it (``bot.kb.live``).
    """

    __tablename__ = "kb_revision"
    __table_args__ = (
        UniqueConstraint("topic_id", "number"),
        Index("ix_kb_revision_status", "status", "topic_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    topic_id: str = Field(max_length=64)
    number: int = Field(description="1, 2, ... within the topic")
    content: str = Field(description="the topic's YAML; empty when the revision removes it")
    removed: bool = Field(default=False, description="this revision takes the topic away")
    status: str = Field(default=KbRevisionStatus.draft, max_length=10)
    summary: str = Field(default="", max_length=500, description="what changed, in words")
    changed: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description='what differs from the revision it was made from: "fa.answer", "sources"',
    )
    reviewed_languages: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="languages a person checked against the others in this revision",
    )
    base_id: int | None = Field(
        default=None, description="the revision this one was made from (none: the first)"
    )
    author_id: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    author_name: str = Field(default="", max_length=120, description="kept if the staff goes")
    created_at: datetime = Field(default_factory=utcnow)
    published_by_id: int | None = Field(
        default=None, foreign_key="staff_user.id", ondelete="SET NULL"
    )
    published_at: datetime | None = None


class KbFile(SQLModel, table=True):
    """A file of ``knowledge/`` that is not a topic (README.md, organisation.yaml), kept
    as it was imported so that an export gives the folder back whole."""

    __tablename__ = "kb_file"

    name: str = Field(primary_key=True, max_length=128)
    content: str
    updated_at: datetime = Field(default_factory=utcnow)


class KbState(SQLModel, table=True):
    """One row: the published knowledge base's version, raised by every publish."""

    __tablename__ = "kb_state"

    id: int = Field(default=1, primary_key=True)
    version: int = 0
    published_at: datetime | None = None


class KbStaffExample(SQLModel, table=True):
    """An example staff added from a message the bot failed (the learning inbox): kept
    apart so that ``helpline eval --staff-examples`` can hold them out of training."""

    __tablename__ = "kb_staff_example"

    id: int | None = Field(default=None, primary_key=True)
    topic_id: str = Field(max_length=64, index=True)
    language: str = Field(max_length=8)
    text: str = Field(max_length=1000)
    revision_id: int | None = Field(default=None, foreign_key="kb_revision.id", ondelete="SET NULL")
    added_by: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    added_at: datetime = Field(default_factory=utcnow)


class KbInboxDecision(SQLModel, table=True):
    """What staff did with a message the bot failed: added, drafted or dismissed. It goes
    with the message (retention and erasure delete both)."""

    __tablename__ = "kb_inbox_decision"

    message_id: int = Field(primary_key=True, foreign_key="message.id", ondelete="CASCADE")
    outcome: str = Field(max_length=10, description="added, drafted or dismissed")
    topic_id: str | None = Field(default=None, max_length=64)
    staff_id: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    decided_at: datetime = Field(default_factory=utcnow)
