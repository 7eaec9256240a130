"""The learning inbox page: editors and admins act on the messages the bot failed."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.kb import inbox, store
from bot.models import KbInboxDecision, KbRevision, KbStaffExample
from tests.support.flows import Chat
from tests.support.staff import Staff, make_staff

PAGE = "/console/knowledge/inbox"
ASKED = "Mijn naam is Fatima, wanneer komt mijn werkvergunning? Bel 0471 12 34 56"


@pytest.fixture
def edith(engine: Engine, app: FastAPI, chat: Chat) -> Staff:
    with Session(engine) as session:
        if store.is_empty(session):
            store.import_directory(session, chat.settings.knowledge_dir)
            session.commit()
    return make_staff(engine, app, "edith@example.org", role="editor").login()


def failed_id(engine: Engine) -> int:
    with Session(engine) as session:
        [found] = inbox.failed_messages(session)
        return found.message_id


def test_staff_without_the_editor_role_cannot_open_it(alice: Staff) -> None:
    assert alice.get(PAGE).status_code == 403
    assert 'href="/console/knowledge/inbox"' not in alice.get("/console/queue").text


def test_an_editor_sees_the_message_and_adds_it_stripped_and_edited(
    edith: Staff, chat: Chat, engine: Engine
) -> None:
    chat.consent("nl")
    chat.send(ASKED)
    message_id = failed_id(engine)
    page = edith.get(PAGE)
    assert page.status_code == 200
    assert "wanneer komt mijn werkvergunning?" in page.text
    assert 'href="/console/knowledge/inbox"' in page.text

    form = {"group": str(message_id), "messages": str(message_id), "language": "nl"}
    stripped = edith.post(f"{PAGE}/act", {**form, "action": "strip", "text": ASKED})
    assert stripped.status_code == 200
    assert "Mijn naam is …, wanneer komt mijn werkvergunning? Bel …</textarea>" in stripped.text
    with Session(engine) as session:  # only shown: nothing added, nothing decided
        assert session.exec(select(KbStaffExample)).all() == []

    added = edith.post(
        f"{PAGE}/act",
        {
            **form,
            "action": "add",
            "text": "Wanneer komt mijn werkvergunning?",
            "topic": "asylum.apply",
        },
    )
    assert added.status_code == 303
    assert "werkvergunning" not in edith.get(PAGE).text
    with Session(engine) as session:
        [example] = session.exec(select(KbStaffExample)).all()
        assert (example.topic_id, example.language, example.text) == (
            "asylum.apply",
            "nl",
            "Wanneer komt mijn werkvergunning?",
        )
        draft = store.draft_of(session, "asylum.apply")
        assert draft is not None and "Fatima" not in draft.content
        decision = session.get(KbInboxDecision, message_id)
        assert decision is not None and decision.outcome == "added"


def test_an_editor_dismisses_and_drafts(edith: Staff, chat: Chat, engine: Engine) -> None:
    chat.consent("nl")
    chat.send(ASKED)
    message_id = failed_id(engine)
    form = {"group": str(message_id), "messages": str(message_id), "language": "nl"}

    refused = edith.post(f"{PAGE}/act", {**form, "action": "draft", "new_topic": "Bad Id"})
    assert refused.status_code == 400
    assert "a topic id is words joined by dots" in refused.text

    drafted = edith.post(
        f"{PAGE}/act",
        {
            **form,
            "action": "draft",
            "new_topic": "work.permit",
            "text": "Wanneer komt mijn werkvergunning?",
        },
    )
    assert drafted.status_code == 303
    with Session(engine) as session:
        draft = store.draft_of(session, "work.permit")
        assert draft is not None and "Wanneer komt mijn werkvergunning?" in draft.content
    assert edith.post(f"{PAGE}/act", {**form, "action": "dismiss"}).status_code == 409


def test_dismissing_takes_the_message_out(edith: Staff, chat: Chat, engine: Engine) -> None:
    chat.consent("nl")
    chat.send(ASKED)
    message_id = failed_id(engine)
    form = {"group": str(message_id), "messages": str(message_id), "action": "dismiss"}
    assert edith.post(f"{PAGE}/act", form).status_code == 303
    assert "werkvergunning" not in edith.get(PAGE).text
    with Session(engine) as session:
        assert session.exec(select(KbRevision).where(KbRevision.status == "draft")).all() == []


def test_a_post_without_the_csrf_token_is_refused(edith: Staff, chat: Chat) -> None:
    response = edith.client.post(
        f"{PAGE}/act",
        data={"group": "1", "messages": "1", "action": "dismiss"},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_measuring_without_staff_examples_says_so(edith: Staff) -> None:
    response = edith.post(f"{PAGE}/measure")
    assert response.status_code == 200
    assert "No examples were added from this inbox yet." in response.text
