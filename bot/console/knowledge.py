"""The knowledge base in the console, for editors and admins: the overview of topics
by language, a topic's six languages side by side with a preview per channel, drafts,
publishing, "mark reviewed", the history with diffs and revert, and the urgent rules.

Every change goes through ``bot.kb.store``, which validates, refuses what an editor
may not change (the urgent topics: admins only) and writes the audit log. A form
carries the number of the revision it was made from: when someone else saved
meanwhile, nothing is overwritten and the editor is told to reload.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from bot.config import LANGUAGES, Settings
from bot.console.auth import CurrentEditor
from bot.console.i18n import N_
from bot.console.routing import console_router
from bot.console.templating import RTL_LANGUAGES, render
from bot.deps import SessionDep
from bot.hours import OpeningHours
from bot.i18n import answer_details
from bot.kb import store
from bot.kb.overview import STATUSES, overview
from bot.kb.preview import preview
from bot.kb.yamltext import load_topic, normalise_answer
from bot.models import KbRevision, Role, StaffUser
from bot.nlu import urgent
from bot.nlu.knowledge import KnowledgeBase, knowledge_from_texts, read_texts
from bot.nlu.organisation import placeholders

router = console_router()

TopicId = Annotated[str, Path(pattern=r"^[a-z0-9_][a-z0-9_.]{0,63}$")]
STATUS_LABELS = {
    "missing": N_("Missing"),
    "draft": N_("Draft"),
    "stale": N_("Changed in another language"),
    "overdue": N_("Review overdue"),
    "published": N_("Published"),
}
NOTICES = {
    "created": N_(
        "The new topic is a draft: write its title, answer and examples in every "
        "language, then publish it."
    ),
    "saved": N_("The draft is saved. It is not what the bot says until it is published."),
    "discarded": N_("The draft is discarded."),
    "published": N_("Published: the bot says it within seconds."),
    "reviewed": N_("Marked reviewed."),
    "reverted": N_("A draft with that revision's text is ready: check it, then publish it."),
}
REVISION_STATUS = {
    "draft": N_("Draft"),
    "published": N_("Published"),
    "superseded": N_("Superseded"),
    "discarded": N_("Discarded"),
}
URGENT_KINDS = {
    "self_harm": N_("Suicide and self-harm"),
    "sexual_violence": N_("Sexual violence"),
    "child_missing": N_("A missing child"),
    "child_alone": N_("A child alone"),
    "domestic_violence": N_("Domestic violence"),
    "trafficking": N_("Trafficking"),
}
CHANGED_ELSEWHERE = N_(
    "Someone else saved this topic meanwhile. Reload the page: nothing was saved."
)
CONFIRM_URGENT = N_("Tick the confirmation: this topic is what the bot says in an emergency.")


def is_urgent_topic(topic_id: str, raw: dict[str, Any] | None) -> bool:
    return (
        topic_id == "urgent"
        or topic_id.startswith("urgent.")
        or (raw is not None and raw.get("kind") == "urgent")
    )


# --- the overview --------------------------------------------------------------------


@router.get("/knowledge")
def knowledge_page(
    request: Request,
    session: SessionDep,
    staff: CurrentEditor,
    status: str = "",
    lang: str = "",
    q: str = "",
) -> Response:
    return _overview_page(request, session, status=status, lang=lang, q=q)


@router.post("/knowledge/topics")
async def new_topic(request: Request, session: SessionDep, staff: CurrentEditor) -> Response:
    """A new topic: a draft with its id, to fill in and publish on its own page."""
    form = await request.form()
    topic_id = str(form.get("topic_id") or "").strip()
    try:
        store.new_topic(session, topic_id, staff)
    except store.KbEditError as exc:
        session.rollback()
        return _overview_page(request, session, errors=exc.errors, new_id=topic_id)
    session.commit()
    return _back(topic_id, "created")


def _overview_page(
    request: Request,
    session: Session,
    *,
    status: str = "",
    lang: str = "",
    q: str = "",
    errors: list[str] | None = None,
    new_id: str = "",
) -> Response:
    rows = overview(session)
    counts = {name: sum(1 for row in rows if row.has(name)) for name in STATUSES}
    status = status if status in STATUSES else ""
    lang = lang if lang in LANGUAGES else ""
    shown = [
        row
        for row in rows
        if (not status or row.has(status, lang or None))
        and (not q or q.lower() in row.topic_id or q.lower() in row.title.lower())
    ]
    return render(
        request,
        "knowledge.html",
        {
            "rows": shown,
            "total": len(rows),
            "counts": counts,
            "statuses": STATUSES,
            "status_labels": STATUS_LABELS,
            "languages": LANGUAGES,
            "status": status,
            "lang": lang,
            "q": q,
            "empty": store.is_empty(session),
            "errors": errors or [],
            "new_id": new_id,
        },
        status_code=400 if errors else 200,
    )


# --- one topic -----------------------------------------------------------------------


def _raw(revision: KbRevision | None) -> dict[str, Any] | None:
    if revision is None or revision.removed:
        return None
    return load_topic(revision.content)


def _fields(raw: dict[str, Any] | None) -> dict[str, Any]:
    """A topic as the form shows it."""
    raw = raw or {}
    languages = raw.get("languages") or {}
    sources = raw.get("sources") or []
    return {
        "owner": str(raw.get("owner") or ""),
        "review_every": str(raw.get("review_every") or ""),
        "review_note": str(raw.get("review_note") or ""),
        "reviewed_on": str(raw.get("reviewed_on") or ""),
        "kind": str(raw.get("kind") or ""),
        "sources": "\n".join(
            f"{s.get('title') or ''} | {s.get('url')}" if s.get("title") else str(s.get("url"))
            for s in sources
            if isinstance(s, dict)
        ),
        "related": " ".join(raw.get("related") or []),
        "languages": {
            lang: {
                "title": str((languages.get(lang) or {}).get("title") or ""),
                "answer": str((languages.get(lang) or {}).get("answer") or ""),
                "examples": "\n".join((languages.get(lang) or {}).get("examples") or []),
            }
            for lang in LANGUAGES
        },
    }


def _sources(text: str) -> list[dict[str, str]]:
    found = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line:
            continue
        title, separator, url = line.rpartition(" | ")
        found.append({"title": title.strip(), "url": url.strip()} if separator else {"url": line})
    return found


def _changes(form: Any, base: dict[str, Any]) -> dict[str, Any]:
    """What the form changes in ``base`` (as ``store.save_draft`` takes it): only the
    fields the editor changed, so that an untouched answer is not rewritten."""
    before = _fields(base)
    changes: dict[str, Any] = {}
    owner = str(form.get("owner") or "").strip()
    if owner != before["owner"]:
        changes["owner"] = owner
    note = str(form.get("review_note") or "").strip()
    if note != before["review_note"].strip():
        changes["review_note"] = note
    every = str(form.get("review_every") or "").strip()
    if every != before["review_every"]:
        changes["review_every"] = int(every) if every.isdigit() else every
    sources = _sources(str(form.get("sources") or ""))
    if sources != _sources(before["sources"]):
        changes["sources"] = sources
    related = re.split(r"[\s,]+", str(form.get("related") or "").strip())
    related = [r for r in related if r]
    if related != (base.get("related") or []):
        changes["related"] = related
    languages: dict[str, dict[str, Any]] = {}
    for lang in LANGUAGES:
        old = before["languages"][lang]
        title = str(form.get(f"title_{lang}") or "").strip()
        answer = str(form.get(f"answer_{lang}") or "")
        examples = [
            e.strip() for e in str(form.get(f"examples_{lang}") or "").splitlines() if e.strip()
        ]
        if not (title or answer.strip() or examples) and lang not in (base.get("languages") or {}):
            continue  # a language the topic does not have, left empty
        fields: dict[str, Any] = {}
        if title != old["title"].strip():
            fields["title"] = title
        if normalise_answer(answer) != normalise_answer(old["answer"]):
            fields["answer"] = answer
        if examples != [e.strip() for e in old["examples"].splitlines() if e.strip()]:
            fields["examples"] = examples
        if fields:
            languages[lang] = fields
    if languages:
        changes["languages"] = languages
    return changes


def _knowledge_with(
    session: Session, settings: Settings, revision: KbRevision | None
) -> KnowledgeBase:
    """The published knowledge base (``knowledge/`` when none is) with ``revision`` in
    its topic's place: what the bot would say once it is published."""
    published = store.published(session)
    texts = dict(published.texts) if published is not None else read_texts(settings.knowledge_dir)
    if revision is not None and not revision.removed:
        texts[f"{revision.topic_id}.yaml"] = revision.content
    return knowledge_from_texts(texts)


def _previews(
    session: Session, settings: Settings, topic_id: str, revision: KbRevision | None
) -> dict[str, Any]:
    if revision is None or revision.removed:
        return {}
    try:
        knowledge = _knowledge_with(session, settings, revision)
    except Exception:  # a base that does not parse: publishing says why
        return {}
    if topic_id not in knowledge.topics:
        return {}
    hours = OpeningHours.from_settings(settings)
    result: dict[str, Any] = {}
    for lang in knowledge.topics[topic_id].answers:
        answer = knowledge.topics[topic_id].answers[lang].answer
        configured = answer_details(settings, hours, lang)
        result[lang] = {
            "channels": preview(session, settings, knowledge, topic_id, lang),
            "left_out": sorted(set(placeholders(answer)) - configured.keys()),
        }
    return result


def _topic_context(
    request: Request,
    session: Session,
    staff: StaffUser,
    topic_id: str,
    *,
    form: Any = None,
    errors: list[str] | None = None,
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    current = store.published_of(session, topic_id)
    draft = store.draft_of(session, topic_id)
    published_raw, draft_raw = _raw(current), _raw(draft)
    if published_raw is None and draft_raw is None:
        raise HTTPException(404, N_("There is no such topic."))
    base = draft if draft is not None else current
    shown = _fields(draft_raw or published_raw)
    if form is not None:  # what the editor typed, shown again with the errors
        shown = _form_fields(form, shown)
    urgent_topic = is_urgent_topic(topic_id, published_raw) or is_urgent_topic(topic_id, draft_raw)
    return {
        "topic_id": topic_id,
        "published": current if published_raw is not None else None,
        "published_fields": _fields(published_raw) if published_raw is not None else None,
        "draft": draft,
        "draft_changed": draft.changed if draft is not None else [],
        "draft_diff": store.diff(current, draft) if draft is not None else [],
        "fields": shown,
        "base_number": base.number if base is not None else 0,
        "languages": LANGUAGES,
        "rtl": RTL_LANGUAGES,
        "previews": _previews(session, settings, topic_id, draft or current),
        "previewing_draft": draft is not None,
        "urgent_topic": urgent_topic,
        "may_edit": not urgent_topic or staff.role == Role.admin,
        "review_required": settings.kb_review_required,
        "own_draft": draft is not None and draft.author_id == staff.id,
        "errors": errors or [],
        "notice": NOTICES.get(request.query_params.get("notice") or ""),
    }


def _form_fields(form: Any, shown: dict[str, Any]) -> dict[str, Any]:
    values = dict(shown)
    for key in ("owner", "review_every", "review_note", "sources", "related"):
        values[key] = str(form.get(key) or "")
    values["languages"] = {
        lang: {
            name: str(form.get(f"{name}_{lang}") or "") for name in ("title", "answer", "examples")
        }
        for lang in LANGUAGES
    }
    return values


def _topic_page(
    request: Request,
    session: Session,
    staff: StaffUser,
    topic_id: str,
    *,
    form: Any = None,
    errors: list[str] | None = None,
) -> Response:
    context = _topic_context(request, session, staff, topic_id, form=form, errors=errors)
    return render(request, "knowledge_topic.html", context, status_code=400 if errors else 200)


def _back(topic_id: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/console/knowledge/topics/{topic_id}?notice={notice}", 303)


def _done(
    request: Request,
    session: Session,
    staff: StaffUser,
    topic_id: str,
    notice: str,
    change: Callable[[], object],
    *,
    form: Any = None,
) -> Response:
    """Make ``change`` (a store call) and commit it, then back to the topic with
    ``notice``; when the store refuses it, nothing is kept and the page shows why."""
    try:
        change()
    except store.KbEditError as exc:
        session.rollback()
        return _topic_page(request, session, staff, topic_id, form=form, errors=exc.errors)
    session.commit()
    return _back(topic_id, notice)


@router.get("/knowledge/topics/{topic_id}")
def topic_page(
    request: Request, topic_id: TopicId, session: SessionDep, staff: CurrentEditor
) -> Response:
    return _topic_page(request, session, staff, topic_id)


def _refuse_if_changed(session: Session, topic_id: str, form: Any) -> None:
    base = store.draft_of(session, topic_id) or store.published_of(session, topic_id)
    sent = str(form.get("base_number") or "")
    if base is not None and sent != str(base.number):
        raise HTTPException(409, CHANGED_ELSEWHERE)


def _check_confirmation(session: Session, staff: StaffUser, topic_id: str, form: Any) -> None:
    """An urgent topic: an editor may not change it (the store refuses too), an admin
    only after ticking the confirmation."""
    raw = _raw(store.draft_of(session, topic_id)) or _raw(store.published_of(session, topic_id))
    if not is_urgent_topic(topic_id, raw):
        return
    if staff.role != Role.admin:
        raise HTTPException(
            403, N_("Only an administrator changes what the bot says in an emergency.")
        )
    if form.get("confirm_urgent") != "yes":
        raise HTTPException(400, CONFIRM_URGENT)


@router.post("/knowledge/topics/{topic_id}/draft")
async def save_draft(
    request: Request, topic_id: TopicId, session: SessionDep, staff: CurrentEditor
) -> Response:
    form = await request.form()
    _refuse_if_changed(session, topic_id, form)
    _check_confirmation(session, staff, topic_id, form)
    base = store.draft_of(session, topic_id) or store.published_of(session, topic_id)
    raw = _raw(base)
    if raw is None:
        raise HTTPException(404, N_("There is no such topic."))
    try:
        changes = _changes(form, raw)
        if not changes and store.draft_of(session, topic_id) is not None:
            return _back(topic_id, "saved")
    except store.KbEditError as exc:
        return _topic_page(request, session, staff, topic_id, form=form, errors=exc.errors)
    summary = str(form.get("summary") or "").strip()
    return _done(
        request,
        session,
        staff,
        topic_id,
        "saved",
        lambda: store.save_draft(session, topic_id, staff, changes=changes, summary=summary),
        form=form,
    )


@router.post("/knowledge/topics/{topic_id}/discard")
async def discard_draft(
    request: Request, topic_id: TopicId, session: SessionDep, staff: CurrentEditor
) -> Response:
    form = await request.form()
    _refuse_if_changed(session, topic_id, form)
    _check_confirmation(session, staff, topic_id, form)
    store.discard_draft(session, topic_id, staff)
    session.commit()
    return _back(topic_id, "discarded")


@router.post("/knowledge/topics/{topic_id}/publish")
async def publish(
    request: Request, topic_id: TopicId, session: SessionDep, staff: CurrentEditor
) -> Response:
    settings: Settings = request.app.state.settings
    form = await request.form()
    _refuse_if_changed(session, topic_id, form)
    _check_confirmation(session, staff, topic_id, form)
    draft = store.draft_of(session, topic_id)
    if draft is None or draft.id is None:
        return _topic_page(
            request, session, staff, topic_id, errors=[N_("There is no draft to publish.")]
        )
    draft_id, required = draft.id, settings.kb_review_required
    return _done(
        request,
        session,
        staff,
        topic_id,
        "published",
        lambda: store.publish(session, draft_id, staff, review_required=required),
    )


@router.post("/knowledge/topics/{topic_id}/reviewed")
async def mark_reviewed(
    request: Request, topic_id: TopicId, session: SessionDep, staff: CurrentEditor
) -> Response:
    form = await request.form()
    _check_confirmation(session, staff, topic_id, form)
    languages = [lang for lang in form.getlist("reviewed") if lang in LANGUAGES]
    if not languages:
        return _topic_page(
            request,
            session,
            staff,
            topic_id,
            errors=[N_("Tick the languages you compared.")],
        )
    note = str(form.get("note") or "")
    return _done(
        request,
        session,
        staff,
        topic_id,
        "reviewed",
        lambda: store.mark_reviewed(session, topic_id, staff, languages=languages, note=note),
    )


# --- history -------------------------------------------------------------------------


@router.get("/knowledge/topics/{topic_id}/history")
def history_page(
    request: Request,
    topic_id: TopicId,
    session: SessionDep,
    staff: CurrentEditor,
    number: int | None = None,
) -> Response:
    revisions = store.history(session, topic_id)
    if not revisions:
        raise HTTPException(404, N_("There is no such topic."))
    chosen = next((r for r in revisions if r.number == number), revisions[0])
    earlier = next((r for r in revisions if r.number < chosen.number), None)
    raw = _raw(store.draft_of(session, topic_id)) or _raw(store.published_of(session, topic_id))
    urgent_topic = is_urgent_topic(topic_id, raw)
    return render(
        request,
        "knowledge_history.html",
        {
            "topic_id": topic_id,
            "revisions": revisions,
            "chosen": chosen,
            "earlier": earlier,
            "diff": store.diff(earlier, chosen),
            "status_labels": REVISION_STATUS,
            "urgent_topic": urgent_topic,
            "may_edit": not urgent_topic or staff.role == Role.admin,
        },
    )


@router.post("/knowledge/topics/{topic_id}/revert")
async def revert(
    request: Request, topic_id: TopicId, session: SessionDep, staff: CurrentEditor
) -> Response:
    form = await request.form()
    _check_confirmation(session, staff, topic_id, form)
    number = str(form.get("number") or "")
    if not number.isdigit():
        raise HTTPException(400, N_("The form is incomplete or not valid. Go back and check it."))
    return _done(
        request,
        session,
        staff,
        topic_id,
        "reverted",
        lambda: store.revert(session, topic_id, int(number), staff),
    )


# --- the urgent rules ----------------------------------------------------------------


@router.get("/knowledge/urgent-rules")
def urgent_rules_page(request: Request, staff: CurrentEditor) -> Response:
    """What ``bot.nlu.urgent`` catches, to read (they change in the code, by review)."""
    categories: dict[str, list[dict[str, Any]]] = {}
    for category, rule, unless in urgent.RULES:
        patterns = list(rule) if isinstance(rule, tuple) else [rule]
        categories.setdefault(category, []).append({"patterns": patterns, "unless": unless})
    kinds = list(urgent.KIND_PATTERNS)
    return render(
        request,
        "knowledge_urgent.html",
        {"categories": categories, "kinds": kinds, "kind_labels": URGENT_KINDS},
    )
