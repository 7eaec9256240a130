"""Where every topic stands in every language: the editors' overview.

A cell (one topic, one language) has one or more statuses, the most pressing first:

- ``missing``: nothing published in that language, and no draft writes it;
- ``draft``: an open draft changes that language;
- ``stale``: another language's answer changed (in a published revision) after this
  language's answer last changed or was last marked reviewed, so the translation may
  say something the others no longer say;
- ``overdue``: the topic's review date (``reviewed_on`` + ``review_every`` days) passed;
- ``published``: none of the above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from bot.config import LANGUAGES
from bot.kb.yamltext import load_topic
from bot.models import KbRevision, KbRevisionStatus

__all__ = ["STATUSES", "TopicRow", "overview", "stale_languages"]

STATUSES = ("missing", "draft", "stale", "overdue", "published")


@dataclass(frozen=True)
class TopicRow:
    """One topic's line of the overview."""

    topic_id: str
    kind: str
    title: str  # in English, else the first language that has one
    draft: bool  # an open draft
    review_due: dt.date | None
    cells: dict[str, tuple[str, ...]]  # language -> statuses, the most pressing first

    @property
    def urgent(self) -> bool:
        return (
            self.kind == "urgent"
            or self.topic_id == "urgent"
            or self.topic_id.startswith("urgent.")
        )

    def has(self, status: str, lang: str | None = None) -> bool:
        languages = [lang] if lang else list(self.cells)
        return any(status in self.cells[code] for code in languages if code in self.cells)


def stale_languages(revisions: Iterable[tuple[Sequence[str], Sequence[str]]]) -> set[str]:
    """The languages whose answer another language's changed since (``revisions``: the
    published revisions' ``changed`` and ``reviewed_languages``, oldest first)."""
    touched: dict[str, int] = {}  # language -> the last revision that changed or checked it
    others: dict[str, int] = {}  # language -> the last revision that changed another's answer
    for index, (changed, reviewed) in enumerate(revisions):
        answers = {name.split(".")[0] for name in changed if name.endswith(".answer")}
        for lang in LANGUAGES:
            if lang in answers or lang in reviewed:
                touched[lang] = index
            if answers - {lang}:
                others[lang] = index
    return {lang for lang, index in others.items() if index > touched.get(lang, -1)}


def _languages(raw: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    languages = (raw or {}).get("languages") or {}
    return {k: v for k, v in languages.items() if isinstance(v, dict)}


def _changed_languages(revision: KbRevision) -> set[str]:
    return {name.split(".")[0] for name in revision.changed if "." in name}


def overview(session: Session, today: dt.date | None = None) -> list[TopicRow]:
    """Every topic that is published or has a draft, by id."""
    today = today or dt.date.today()
    current = session.exec(
        select(KbRevision).where(
            col(KbRevision.status).in_([KbRevisionStatus.published, KbRevisionStatus.draft])
        )
    ).all()
    published = {r.topic_id: r for r in current if r.status == KbRevisionStatus.published}
    drafts = {r.topic_id: r for r in current if r.status == KbRevisionStatus.draft}
    history: dict[str, list[tuple[Sequence[str], Sequence[str]]]] = {}
    for topic_id, changed, reviewed in session.exec(
        select(KbRevision.topic_id, KbRevision.changed, KbRevision.reviewed_languages)
        .where(col(KbRevision.published_at).is_not(None))
        .order_by(col(KbRevision.topic_id), col(KbRevision.number))
    ):
        history.setdefault(topic_id, []).append((changed or [], reviewed or []))

    rows = []
    for topic_id in sorted(set(published) | set(drafts)):
        shown = published.get(topic_id)
        if shown is not None and shown.removed:
            shown = None
        draft = drafts.get(topic_id)
        if shown is None and draft is None:
            continue
        raw = load_topic(shown.content) if shown is not None else None
        draft_raw = load_topic(draft.content) if draft is not None and not draft.removed else None
        either = raw or draft_raw or {}
        review_due = None
        if raw and isinstance(raw.get("reviewed_on"), dt.date):
            every = raw.get("review_every")
            if isinstance(every, int) and not isinstance(every, bool):
                review_due = raw["reviewed_on"] + dt.timedelta(days=every)
        overdue = review_due is not None and review_due < today
        stale = stale_languages(history.get(topic_id, [])) if shown is not None else set()
        in_draft = _changed_languages(draft) if draft is not None else set()
        languages = _languages(raw)
        draft_languages = _languages(draft_raw)
        cells: dict[str, tuple[str, ...]] = {}
        for lang in LANGUAGES:
            statuses = []
            if lang not in languages and lang not in draft_languages:
                statuses.append("missing")
            if lang in in_draft:
                statuses.append("draft")
            if lang in languages:
                if lang in stale:
                    statuses.append("stale")
                if overdue:
                    statuses.append("overdue")
                if not statuses:
                    statuses.append("published")
            cells[lang] = tuple(statuses) or ("draft",)
        titles = _languages(either)
        first = titles.get("en") or next(iter(titles.values()), {})
        rows.append(
            TopicRow(
                topic_id=topic_id,
                kind=str(either.get("kind") or ""),
                title=str(first.get("title") or ""),
                draft=draft is not None,
                review_due=review_due,
                cells=cells,
            )
        )
    return rows
