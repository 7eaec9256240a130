"""The learning inbox page ``/console/knowledge/inbox`` (editors and admins).

It lists the messages the bot failed, grouped (``bot.kb.inbox``), with one form per
group: add the (edited) text as an example of a topic, draft a new topic from it, or
dismiss the group's messages. "Remove personal details" shows the text stripped of
names, numbers, e-mail and street addresses in the form, for the editor to check:
nothing is added that the editor did not see. "Measure" scores the matcher on the
examples staff added (``bot.kb.heldout``): it trains twice, so it runs on request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from bot.config import LANGUAGES, Settings
from bot.console.auth import CurrentEditor
from bot.console.canned import reference_language
from bot.console.i18n import N_
from bot.console.routing import console_router
from bot.console.templating import console_locale, render, translator
from bot.deps import SessionDep, SettingsDep
from bot.kb import heldout, inbox, store
from bot.models import StaffUser
from bot.nlu.knowledge import KnowledgeBase

router = console_router()
PAGE = "/console/knowledge/inbox"
REASONS = {
    inbox.ABSTAINED: N_("The bot found no answer"),
    inbox.NOT_HELPFUL: N_("Did this help? No"),
    inbox.CLOSED_OTHER: N_("Closed by staff with another topic"),
}
MAX_IDS = 200  # messages acted on at once


def _knowledge(session: Session, settings: Settings) -> KnowledgeBase:
    return heldout.current_knowledge(session, settings)[0]


def _topics(knowledge: KnowledgeBase, locale: str) -> list[tuple[str, str]]:
    """(topic id, title in the editor's language) of the topics an example can join."""
    ref = reference_language(locale)
    found = [
        (topic_id, knowledge.answer(topic_id, ref).title or topic_id)
        for topic_id, topic in knowledge.topics.items()
        if topic.kind == "faq" and topic.answers
    ]
    return sorted(found, key=lambda pair: pair[1].casefold())


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    staff: StaffUser,
    *,
    edited: dict[int, str] | None = None,
    measured: heldout.Measured | None = None,
    measured_none: bool = False,
    errors: list[str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    knowledge = _knowledge(session, settings)
    measured = measured or getattr(request.app.state, "kb_measured", None)
    groups = inbox.group(inbox.failed_messages(session, knowledge))
    topics = _topics(knowledge, console_locale(request, staff))
    titles = dict(topics)
    context = {
        "groups": groups,
        "topics": topics,
        "titles": titles,
        "reasons": REASONS,
        "languages": LANGUAGES,
        "edited": edited or {},
        "measured": measured,
        "measured_none": measured_none,
        "errors": errors or [],
        "notice": notice,
        "count": sum(g.count for g in groups),
    }
    return render(request, "kb_inbox.html", context, status_code=status_code)


DONE = {
    "add": N_("Added as an example, in a draft: it teaches the bot once the draft is published."),
    "draft": N_("A new topic is drafted: write its title and answer, then publish it."),
    "dismiss": N_("Dismissed."),
}


@router.get("/knowledge/inbox")
def inbox_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentEditor,
    done: str = "",
) -> Response:
    return _page(request, session, settings, staff, notice=DONE.get(done))


def _one_line_each(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


@router.post("/knowledge/inbox/act")
def act(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentEditor,
    group: Annotated[int, Form(ge=1)],
    action: Annotated[str, Form(max_length=10)],
    messages: Annotated[list[int], Form()],
    text: Annotated[str, Form(max_length=4000)] = "",
    language: Annotated[str, Form(max_length=8)] = "",
    topic: Annotated[str, Form(max_length=64)] = "",
    new_topic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """One action on the chosen messages of a group: strip, add, draft or dismiss."""
    t = translator(request)
    in_inbox = {f.message_id for f in inbox.failed_messages(session)}
    chosen = [i for i in dict.fromkeys(messages) if i in in_inbox][:MAX_IDS]
    if action == "strip":
        stripped = "\n".join(inbox.strip_personal(line) for line in text.splitlines())
        notice = N_(
            "Personal details removed where they were found. Check the text before you add it."
        )
        return _page(request, session, settings, staff, edited={group: stripped}, notice=notice)
    if not chosen:
        raise HTTPException(409, t.gettext("These messages are no longer in the inbox."))
    lines = _one_line_each(text)
    try:
        if action == "add":
            if not lines:
                raise store.KbEditError([t.gettext("Write the example to add.")])
            for line in lines:
                inbox.add_example(session, chosen, topic, language, line, staff)
        elif action == "draft":
            inbox.draft_topic(session, chosen, new_topic, language, lines, staff)
        elif action == "dismiss":
            inbox.dismiss(session, chosen, staff)
        else:
            raise HTTPException(400, t.gettext("Choose an action."))
    except store.KbEditError as exc:
        session.rollback()
        return _page(
            request,
            session,
            settings,
            staff,
            edited={group: text},
            errors=exc.errors,
            status_code=400,
        )
    session.commit()
    return RedirectResponse(f"{PAGE}?done={action}", status_code=303)


@router.post("/knowledge/inbox/measure")
def measure(
    request: Request, session: SessionDep, settings: SettingsDep, staff: CurrentEditor
) -> Response:
    """Score the matcher on the staff examples, held out and as published."""
    from bot.kb import live

    measured = heldout.measure(session, settings, live.matcher(settings))
    if measured is not None:  # shown again on this instance until measured anew
        request.app.state.kb_measured = measured
    return _page(
        request, session, settings, staff, measured=measured, measured_none=measured is None
    )
