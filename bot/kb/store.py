"""Every version of every topic, in the database.

A topic's revisions are numbered 1, 2, ...; each holds the topic's whole YAML text.
At most one is ``published`` (what the bot says) and at most one is a ``draft`` (the
next version, being written); the others are ``superseded`` or ``discarded``. Saving a
draft replaces the previous draft; publishing one makes it the published revision and
raises ``KbState.version`` by one, which every instance watches (``bot.kb.live``).

Nothing is published that fails ``validate_texts`` (the checks of ``helpline kb
validate``): a publish validates the whole knowledge base as it would be. The
``urgent`` topics, and with them what the bot says in an emergency, only an admin
changes. Every save, publish and revert is in the audit log.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.audit import record as audit
from bot.config import LANGUAGES
from bot.kb.yamltext import dump_topic, load_topic, normalise_answer
from bot.models import (
    KbFile,
    KbRevision,
    KbRevisionStatus,
    KbStaffExample,
    KbState,
    Role,
    StaffUser,
    utcnow,
)
from bot.nlu.knowledge import (
    KnowledgeBase,
    KnowledgeError,
    knowledge_from_texts,
    parse_topic,
    read_texts,
    validate_texts,
)
from bot.nlu.organisation import ORGANISATION_FILE

__all__ = [
    "SYSTEM_IMPORT",
    "ImportResult",
    "KbEditError",
    "Published",
    "add_example",
    "diff",
    "discard_draft",
    "draft_of",
    "export_directory",
    "history",
    "import_directory",
    "is_empty",
    "mark_reviewed",
    "new_topic",
    "publish",
    "published",
    "published_of",
    "revert",
    "save_draft",
    "state",
]

SYSTEM_IMPORT = "system:kb-import"
# The files of knowledge/ kept as they are, beside the topics.
OTHER_FILES = ("README.md", ORGANISATION_FILE)


class KbEditError(Exception):
    """A change that cannot be saved or published; ``errors`` says why, for the editor."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# --- reading -------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """The published knowledge base: its version, and each topic's text by file name."""

    version: int
    texts: dict[str, str]

    def knowledge(self) -> KnowledgeBase:
        return knowledge_from_texts(self.texts)


def state(session: Session) -> KbState:
    """The one ``kb_state`` row (version 0: nothing published yet)."""
    row = session.get(KbState, 1)
    return row if row is not None else KbState(id=1, version=0)


def is_empty(session: Session) -> bool:
    """Nothing was ever imported or written: the bot reads ``knowledge/``."""
    return session.exec(select(func.count()).select_from(KbRevision)).one() == 0


def _published_rows(session: Session) -> list[KbRevision]:
    return list(
        session.exec(
            select(KbRevision)
            .where(KbRevision.status == KbRevisionStatus.published)
            .order_by(col(KbRevision.topic_id))
        )
    )


def _texts(rows: Iterable[KbRevision]) -> dict[str, str]:
    return {f"{row.topic_id}.yaml": row.content for row in rows if not row.removed}


def published(session: Session) -> Published | None:
    """What the bot says now, or None when nothing was published (read ``knowledge/``)."""
    current = state(session)
    if current.version == 0:
        return None
    texts = _texts(_published_rows(session))
    return Published(current.version, texts)


def published_of(session: Session, topic_id: str) -> KbRevision | None:
    return session.exec(
        select(KbRevision).where(
            KbRevision.topic_id == topic_id, KbRevision.status == KbRevisionStatus.published
        )
    ).first()


def draft_of(session: Session, topic_id: str) -> KbRevision | None:
    return session.exec(
        select(KbRevision).where(
            KbRevision.topic_id == topic_id, KbRevision.status == KbRevisionStatus.draft
        )
    ).first()


def history(session: Session, topic_id: str) -> list[KbRevision]:
    """The topic's revisions, newest first."""
    return list(
        session.exec(
            select(KbRevision)
            .where(KbRevision.topic_id == topic_id)
            .order_by(col(KbRevision.number).desc())
        )
    )


def diff(old: KbRevision | None, new: KbRevision) -> list[str]:
    """A unified diff of two revisions' YAML (``old`` None: the whole of ``new`` added)."""
    before = old.content if old is not None and not old.removed else ""
    after = "" if new.removed else new.content
    name = f"{new.topic_id}.yaml"
    return list(
        difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            fromfile=f"{name} #{old.number}" if old is not None else "/dev/null",
            tofile=f"{name} #{new.number}",
            lineterm="",
        )
    )


# --- what changed --------------------------------------------------------------------


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """What differs between two parsed topics: "nl.answer", "fa.examples", "sources"..."""
    before, after = before or {}, after or {}
    changed: list[str] = []
    for key in sorted((set(before) | set(after)) - {"languages"}):
        if before.get(key) != after.get(key):
            changed.append(key)
    old_languages = before.get("languages") or {}
    new_languages = after.get("languages") or {}
    for lang in LANGUAGES:
        old, new = old_languages.get(lang) or {}, new_languages.get(lang) or {}
        for key in ("title", "answer", "examples"):
            if old.get(key) != new.get(key):
                changed.append(f"{lang}.{key}")
    return changed


def _summary(changed: list[str]) -> str:
    return ", ".join(changed) if changed else "no change"


# --- writing -------------------------------------------------------------------------


def _author(staff: StaffUser | str) -> tuple[int | None, str]:
    if isinstance(staff, str):
        return None, staff
    return staff.id, staff.name or staff.email


def _next_number(session: Session, topic_id: str) -> int:
    highest = session.exec(
        select(func.max(KbRevision.number)).where(KbRevision.topic_id == topic_id)
    ).one()
    return (highest or 0) + 1


def _is_urgent(raw: Mapping[str, Any] | None, topic_id: str) -> bool:
    return (
        topic_id == "urgent"
        or topic_id.startswith("urgent.")
        or (raw is not None and raw.get("kind") == "urgent")
    )


def _check_may_change(
    staff: StaffUser | str, topic_id: str, *raws: Mapping[str, Any] | None
) -> None:
    if isinstance(staff, str):
        return  # the system (an import by the IT volunteer)
    if any(_is_urgent(raw, topic_id) for raw in raws) and staff.role != Role.admin:
        raise KbEditError(
            [f"{topic_id}: what the bot says in an emergency is changed by an admin only"]
        )


def _parsed(content: str, topic_id: str) -> dict[str, Any]:
    try:
        raw = load_topic(content)
    except Exception as exc:  # a YAML error, or not a mapping
        raise KbEditError([f"{topic_id}: not a valid topic: {exc}"]) from exc
    _topic, errors = parse_topic(raw, f"{topic_id}.yaml")
    if errors:
        raise KbEditError(errors)
    if raw.get("id") != topic_id:
        raise KbEditError([f"{topic_id}: the id must stay {topic_id!r}"])
    return raw


def save_draft(
    session: Session,
    topic_id: str,
    staff: StaffUser | str,
    *,
    content: str | None = None,
    changes: Mapping[str, Any] | None = None,
    summary: str = "",
) -> KbRevision:
    """Save the next version of ``topic_id`` as its draft (replacing an earlier draft).

    Either ``content`` (the whole YAML) or ``changes``, applied to the current draft or,
    without one, to the published text: top-level keys (``sources``, ``related``,
    ``owner``, ``review_every``, ``review_note``), and ``languages: {fa: {answer: ...,
    title: ..., examples: [...]}}`` for the languages that changed. A new topic has no
    published text: give ``content``. Raises ``KbEditError`` when the topic is not valid.
    """
    draft = draft_of(session, topic_id)
    current = published_of(session, topic_id)
    base = draft or current
    base_raw = load_topic(base.content) if base is not None and not base.removed else None
    if content is None:
        if base_raw is None:
            raise KbEditError([f"{topic_id}: a new topic needs its whole text"])
        content = dump_topic(_apply(base_raw, changes or {}))
    raw = _parsed(content, topic_id)
    published_raw = (
        load_topic(current.content) if current is not None and not current.removed else None
    )
    _check_may_change(staff, topic_id, published_raw, raw)
    changed = changed_fields(published_raw, raw)
    if not changed and draft is None:
        raise KbEditError([f"{topic_id}: nothing changed"])
    if draft is not None:
        draft.status = KbRevisionStatus.superseded
        session.add(draft)
        session.flush()
    author_id, author_name = _author(staff)
    revision = KbRevision(
        topic_id=topic_id,
        number=_next_number(session, topic_id),
        content=content,
        status=KbRevisionStatus.draft,
        summary=(summary or _summary(changed))[:500],
        changed=changed,
        base_id=current.id if current is not None else None,
        author_id=author_id,
        author_name=author_name[:120],
    )
    session.add(revision)
    session.flush()
    audit(session, "kb_draft", staff_id=author_id, target=topic_id, detail=revision.summary)
    return revision


def _apply(raw: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(raw)
    for key, value in changes.items():
        if key == "languages":
            languages = dict(result.get("languages") or {})
            for lang, fields in value.items():
                answer = dict(languages.get(lang) or {})
                for name, text in fields.items():
                    if name == "answer" and isinstance(text, str):
                        text = normalise_answer(text)
                    elif name == "title" and isinstance(text, str):
                        text = text.strip()
                    elif name == "examples":
                        text = [e.strip() for e in text if e.strip()]
                    answer[name] = text
                languages[lang] = answer
            result["languages"] = languages
        else:
            result[key] = value
    return result


TOPIC_ID = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+")


def new_topic(
    session: Session,
    topic_id: str,
    staff: StaffUser | str,
    *,
    examples: Mapping[str, Sequence[str]] | None = None,
    owner: str = "infolijn",
    summary: str = "new topic",
    today: dt.date | None = None,
) -> KbRevision:
    """The draft of a new faq topic: titles and answers for the editor to write (it
    cannot be published before every language has them); ``examples`` by language."""
    topic_id = topic_id.strip()
    if not TOPIC_ID.fullmatch(topic_id):
        raise KbEditError(
            [f"{topic_id or '?'}: a topic id is words joined by dots, e.g. asylum.new_question"]
        )
    if published_of(session, topic_id) or draft_of(session, topic_id):
        raise KbEditError([f"{topic_id}: this topic exists already"])
    languages: dict[str, dict[str, Any]] = {}
    for lang in LANGUAGES:
        texts = list(dict.fromkeys(" ".join(t.split()) for t in (examples or {}).get(lang, ())))
        languages[lang] = {"title": "", "answer": "", "examples": [t for t in texts if t]}
    content = dump_topic(
        {
            "id": topic_id,
            "kind": "faq",
            "owner": owner,
            "reviewed_on": today or dt.date.today(),
            "review_every": 180,
            "languages": languages,
        }
    )
    return save_draft(session, topic_id, staff, content=content, summary=summary)


def discard_draft(session: Session, topic_id: str, staff: StaffUser | str) -> None:
    draft = draft_of(session, topic_id)
    if draft is None:
        return
    draft.status = KbRevisionStatus.discarded
    session.add(draft)
    audit(
        session,
        "kb_discard",
        staff_id=_author(staff)[0],
        target=topic_id,
        detail=f"#{draft.number}",
    )


def _validate_with(session: Session, replacing: Mapping[str, KbRevision]) -> list[str]:
    """The errors of the whole knowledge base with ``replacing`` (topic id -> revision)
    in place of the published revisions."""
    rows = {row.topic_id: row for row in _published_rows(session)}
    rows.update(replacing)
    errors, _warnings = validate_texts(_texts(rows.values()), shared_topics=_shared_file())
    return errors


def _shared_file() -> Path | None:
    from bot.config import get_settings
    from bot.nlu.knowledge import shared_topics_file

    file = shared_topics_file(get_settings().knowledge_dir)
    return file if file.is_file() else None


def _bump(session: Session) -> int:
    """Raise the published version by one; returns it. The row is locked while the
    transaction runs, so that two publishes never give the same version."""
    row = session.exec(select(KbState).where(KbState.id == 1).with_for_update()).first()
    if row is None:
        row = KbState(id=1, version=0)
    row.version += 1
    row.published_at = utcnow()
    session.add(row)
    session.flush()
    return row.version


def _make_published(session: Session, revision: KbRevision, by: int | None) -> None:
    current = published_of(session, revision.topic_id)
    if current is not None and current.id != revision.id:
        current.status = KbRevisionStatus.superseded
        session.add(current)
        session.flush()
    revision.status = KbRevisionStatus.published
    revision.published_by_id = by
    revision.published_at = utcnow()
    session.add(revision)
    session.flush()


def publish(
    session: Session,
    revision_id: int,
    staff: StaffUser | str,
    *,
    review_required: bool = False,
) -> int:
    """Publish a draft: the bot says it within seconds on every instance. Returns the
    new version. With ``review_required`` (``HELPLINE_KB_REVIEW_REQUIRED``), the author
    cannot publish their own draft. Raises ``KbEditError`` when it may not be published.
    """
    revision = session.get(KbRevision, revision_id)
    if revision is None or revision.status != KbRevisionStatus.draft:
        raise KbEditError(["this draft is no longer open (published, replaced or discarded)"])
    by, _name = _author(staff)
    if review_required and by is not None and by == revision.author_id:
        raise KbEditError(
            [f"{revision.topic_id}: a second person reviews and publishes what you wrote"]
        )
    current = published_of(session, revision.topic_id)
    _check_may_change(
        staff,
        revision.topic_id,
        load_topic(current.content) if current and not current.removed else None,
        None if revision.removed else load_topic(revision.content),
    )
    errors = _validate_with(session, {revision.topic_id: revision})
    if errors:
        raise KbEditError(errors)
    _make_published(session, revision, by)
    version = _bump(session)
    audit(
        session,
        "kb_publish",
        staff_id=by,
        target=revision.topic_id,
        detail=f"#{revision.number} v{version}: {revision.summary}"[:500],
    )
    return version


def revert(session: Session, topic_id: str, number: int, staff: StaffUser | str) -> KbRevision:
    """A draft with the text of an earlier revision (to publish like any draft)."""
    old = session.exec(
        select(KbRevision).where(KbRevision.topic_id == topic_id, KbRevision.number == number)
    ).first()
    if old is None or old.removed:
        raise KbEditError([f"{topic_id}: no revision #{number} to go back to"])
    return save_draft(session, topic_id, staff, content=old.content, summary=f"back to #{number}")


def mark_reviewed(
    session: Session,
    topic_id: str,
    staff: StaffUser | str,
    *,
    languages: Iterable[str] = LANGUAGES,
    note: str = "",
    today: dt.date | None = None,
) -> int:
    """A person checked the topic (``languages``: the translations they compared):
    ``reviewed_on`` becomes today, ``review_note`` the note. Published at once (it
    changes no answer); returns the new version."""
    current = published_of(session, topic_id)
    if current is None or current.removed:
        raise KbEditError([f"{topic_id}: nothing published to mark reviewed"])
    raw = load_topic(current.content)
    _check_may_change(staff, topic_id, raw)
    raw["reviewed_on"] = today or dt.date.today()
    if note.strip():
        raw["review_note"] = note.strip()
    checked = [lang for lang in LANGUAGES if lang in set(languages)]
    author_id, author_name = _author(staff)
    draft = draft_of(session, topic_id)
    revision = KbRevision(
        topic_id=topic_id,
        number=_next_number(session, topic_id),
        content=dump_topic(raw),
        status=KbRevisionStatus.draft,
        summary=f"reviewed ({' '.join(checked)})" + (f": {note.strip()}" if note.strip() else ""),
        changed=changed_fields(load_topic(current.content), raw),
        reviewed_languages=checked,
        base_id=current.id,
        author_id=author_id,
        author_name=author_name[:120],
    )
    session.add(revision)
    session.flush()
    _make_published(session, revision, author_id)
    if draft is not None:
        # The open draft stays open: it was made from the previous text, and the
        # editor sees it beside what is published.
        session.add(draft)
    version = _bump(session)
    audit(
        session, "kb_reviewed", staff_id=author_id, target=topic_id, detail=revision.summary[:500]
    )
    return version


def add_example(
    session: Session,
    topic_id: str,
    lang: str,
    text: str,
    staff: StaffUser | str,
) -> KbRevision:
    """Add ``text`` as an example of ``topic_id`` in ``lang`` (a draft, to publish), and
    remember it as a staff example (``helpline eval --staff-examples``)."""
    text = " ".join(text.split())
    if not text:
        raise KbEditError(["the example is empty"])
    if lang not in LANGUAGES:
        raise KbEditError([f"unknown language {lang!r}"])
    base = draft_of(session, topic_id) or published_of(session, topic_id)
    if base is None or base.removed:
        raise KbEditError([f"{topic_id}: no such topic"])
    raw = load_topic(base.content)
    answer = (raw.get("languages") or {}).get(lang) or {}
    examples = list(answer.get("examples") or [])
    if text not in examples:
        examples.append(text)
    revision = save_draft(
        session,
        topic_id,
        staff,
        changes={"languages": {lang: {"examples": examples}}},
        summary=f"{lang}: example added from a message the bot failed",
    )
    author_id, _name = _author(staff)
    session.add(
        KbStaffExample(
            topic_id=topic_id,
            language=lang,
            text=text[:1000],
            revision_id=revision.id,
            added_by=author_id,
        )
    )
    session.flush()
    return revision


# --- knowledge/ in and out -----------------------------------------------------------


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    version: int = 0  # the published version after the import

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "version": self.version,
        }


def import_directory(
    session: Session, path: Path, *, author: str = SYSTEM_IMPORT, remove_missing: bool = True
) -> ImportResult:
    """Publish what differs between ``path`` (a ``knowledge/`` folder) and the
    database, as revisions by ``author``. Refuses (``KbEditError``) a folder that fails
    ``helpline kb validate``; with ``remove_missing``, topics the folder lacks are
    taken away. One version for the whole import; none when nothing changed."""
    try:
        texts = read_texts(path)
    except KnowledgeError as exc:
        raise KbEditError(exc.errors) from exc
    shared = _shared_file()
    errors, _warnings = validate_texts(texts, shared_topics=shared)
    if errors:
        raise KbEditError(errors)
    result = ImportResult()
    current = {row.topic_id: row for row in _published_rows(session)}
    wanted = {name.removesuffix(".yaml"): text for name, text in texts.items()}
    for topic_id in sorted(wanted):
        row = current.get(topic_id)
        if row is not None and not row.removed and row.content == wanted[topic_id]:
            result.unchanged += 1
            continue
        before = load_topic(row.content) if row is not None and not row.removed else None
        after = load_topic(wanted[topic_id])
        revision = _imported(
            session, topic_id, wanted[topic_id], author, changed_fields(before, after)
        )
        (result.changed if before is not None else result.added).append(topic_id)
        _make_published(session, revision, None)
    if remove_missing:
        for topic_id in sorted(set(current) - set(wanted)):
            if current[topic_id].removed:
                continue
            revision = _imported(session, topic_id, "", author, ["removed"], removed=True)
            _make_published(session, revision, None)
            result.removed.append(topic_id)
    for name in OTHER_FILES:
        file = path / name
        if file.is_file():
            content = file.read_text(encoding="utf-8")
            stored = session.get(KbFile, name)
            if stored is None or stored.content != content:
                session.merge(KbFile(name=name, content=content, updated_at=utcnow()))
    session.flush()
    if result.added or result.changed or result.removed:
        result.version = _bump(session)
        audit(
            session,
            "kb_import",
            staff_id=None,
            target=str(path)[:64],
            detail=(
                f"{author}: {len(result.added)} added, {len(result.changed)} changed, "
                f"{len(result.removed)} removed"
            ),
        )
    else:
        result.version = state(session).version
    return result


def _imported(
    session: Session,
    topic_id: str,
    content: str,
    author: str,
    changed: list[str],
    *,
    removed: bool = False,
) -> KbRevision:
    draft = draft_of(session, topic_id)
    if draft is not None:
        # The folder wins: an open draft was written against the text it replaces.
        draft.status = KbRevisionStatus.superseded
        session.add(draft)
        session.flush()
    revision = KbRevision(
        topic_id=topic_id,
        number=_next_number(session, topic_id),
        content=content,
        removed=removed,
        status=KbRevisionStatus.draft,
        summary=("removed by import" if removed else f"import: {_summary(changed)}")[:500],
        changed=changed,
        author_name=author[:120],
    )
    session.add(revision)
    session.flush()
    return revision


def export_directory(session: Session, path: Path) -> list[str]:
    """Write the published knowledge base to ``path`` as ``knowledge/`` is laid out:
    each topic's text as stored (byte for byte what was imported, when nobody changed
    it), and README.md and organisation.yaml as imported. A topic file in ``path``
    that is no longer published is deleted. Returns the file names written."""
    path.mkdir(parents=True, exist_ok=True)
    texts = _texts(_published_rows(session))
    written: list[str] = []
    for name, content in sorted(texts.items()):
        (path / name).write_bytes(content.encode("utf-8"))
        written.append(name)
    for stored in session.exec(select(KbFile)):
        (path / stored.name).write_bytes(stored.content.encode("utf-8"))
        written.append(stored.name)
    for file in path.glob("*.yaml"):
        if file.name not in texts and file.name != ORGANISATION_FILE:
            file.unlink()
    return written


def staff_examples(session: Session) -> list[KbStaffExample]:
    """The examples staff added from the learning inbox, oldest first."""
    return list(session.exec(select(KbStaffExample).order_by(col(KbStaffExample.id))))
