"""What a shift needs besides the queue: a transfer with a message, the account page,
a person's history and the conversation search, and machine translation help."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.console.handovers import handed_to
from bot.models import AuditEntry, Conversation, Direction, Message, Owner, Sender, utcnow
from bot.privacy.erasure import ERASED
from bot.privacy.retention import purge_expired
from tests.support.factories import PASSWORD, add_conversation
from tests.support.fakes.server import Fault
from tests.support.fakes.translate_api import FakeTranslateAPI
from tests.support.staff import Staff, log_in, make_staff

PASHTO = "زه غواړم د خپلې کورنۍ د راوستلو په اړه پوښتنه وکړم"


def new_conversation(engine: Engine, settings: Settings, **kwargs: object) -> int:
    with Session(engine) as session:
        conversation = add_conversation(session, settings, **kwargs)  # type: ignore[arg-type]
        session.commit()
        assert conversation.id is not None
        return conversation.id


def change(engine: Engine, conversation_id: int, **values: object) -> None:
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        for name, value in values.items():
            setattr(conversation, name, value)
        session.add(conversation)
        session.commit()


def add_message(engine: Engine, conversation_id: int, text: str, **values: object) -> int:
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        message = Message(
            conversation_id=conversation_id,
            channel=conversation.channel,
            direction=values.pop("direction", Direction.inbound),
            sender=values.pop("sender", Sender.user),
            text=text,
            **values,
        )
        session.add(message)
        session.commit()
        assert message.id is not None
        return message.id


def rows(html: str) -> list[int]:
    """The conversations listed on a page (in order)."""
    return [int(n) for n in re.findall(r'<tr class="found[^"]*" data-conversation="(\d+)"', html)]


# --- transfer with a message ---------------------------------------------------------


def test_a_transfer_message_reaches_the_colleague_and_stays_on_the_page(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1", text="Hello?")
    alice.post(f"/console/conversations/{conversation_id}/claim")

    response = alice.post(
        f"/console/conversations/{conversation_id}/transfer",
        {"to_staff_id": str(bob.id), "message": "She needs a Pashto speaker, call back at 11"},
    )

    assert response.status_code == 303
    with Session(engine) as session:
        handovers = handed_to(session, bob.id)
        assert [(h.conversation.id, h.sender, h.note.text) for h in handovers] == [
            (conversation_id, "alice", "She needs a Pashto speaker, call back at 11")
        ]
        assert handed_to(session, alice.id) == []
    page = bob.get(f"/console/conversations/{conversation_id}").text
    assert "Handed to bob by alice" in page
    assert "She needs a Pashto speaker, call back at 11" in page


def test_the_handover_leaves_the_colleagues_list_once_they_answer(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1", text="Hello?")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    alice.post(
        f"/console/conversations/{conversation_id}/transfer",
        {"to_staff_id": str(bob.id), "message": "Yours"},
    )

    bob.post(f"/console/conversations/{conversation_id}/reply", {"text": "Hello, I am Bob."})

    with Session(engine) as session:
        assert handed_to(session, bob.id) == []


def test_a_transfer_without_a_message_leaves_no_note(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    alice.post(
        f"/console/conversations/{conversation_id}/transfer",
        {"to_staff_id": str(bob.id), "message": "  "},
    )
    with Session(engine) as session:
        notes = session.exec(select(Message).where(Message.direction == Direction.note)).all()
        assert notes == []
        assert session.get(Conversation, conversation_id).assignee_id == bob.id  # type: ignore[union-attr]


def test_a_transfer_message_has_a_limit(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    response = alice.post(
        f"/console/conversations/{conversation_id}/transfer",
        {"to_staff_id": str(bob.id), "message": "x" * 501},
    )
    assert response.status_code == 400
    change_kept = stored_assignee(engine, conversation_id)
    assert change_kept == alice.id


def stored_assignee(engine: Engine, conversation_id: int) -> int | None:
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.assignee_id


def test_the_transfer_form_offers_a_message_and_colleagues_by_name(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert 'name="message"' in page
    assert f'<option value="{bob.id}">bob</option>' in page


# --- the account page ----------------------------------------------------------------


def test_staff_change_their_name_and_console_language(alice: Staff) -> None:
    response = alice.post("/console/account", {"name": "Alice Peeters", "locale": "fr"})
    assert response.headers["location"] == "/console/account?notice=saved"
    page = alice.get(response.headers["location"]).text
    assert '<html lang="fr">' in page
    assert "Votre compte est enregistré." in page
    assert 'value="Alice Peeters"' in page
    assert "Alice Peeters" in alice.get("/console/queue").text  # in the header


def test_an_unknown_language_is_refused_on_the_account_page(alice: Staff) -> None:
    assert alice.post("/console/account", {"name": "A", "locale": "xx"}).status_code == 400


def test_a_new_password_needs_the_current_one(engine: Engine, app: FastAPI, alice: Staff) -> None:
    new = "a much longer new password"
    wrong = alice.post(
        "/console/account/password", {"current": "not it", "new": new, "repeat": new}
    )
    assert wrong.status_code == 400
    assert "Your current password is not right." in wrong.text
    differ = alice.post(
        "/console/account/password", {"current": PASSWORD, "new": new, "repeat": new + "!"}
    )
    assert differ.status_code == 400
    short = alice.post(
        "/console/account/password", {"current": PASSWORD, "new": "short", "repeat": "short"}
    )
    assert short.status_code == 400
    assert "at least 12 characters" in short.text


def test_changing_the_password_ends_other_sessions_but_not_this_one(
    engine: Engine, app: FastAPI, alice: Staff
) -> None:
    elsewhere = Staff(app, alice.id, alice.email).login()
    new = "a much longer new password"

    response = alice.post(
        "/console/account/password", {"current": PASSWORD, "new": new, "repeat": new}
    )

    assert response.status_code == 303
    assert alice.get("/console/account").status_code == 200
    assert elsewhere.get("/console/queue").status_code == 303  # to the login page
    again = Staff(app, alice.id, alice.email)
    log_in(again.client, alice.email, new)
    with Session(engine) as session:
        actions = session.exec(select(AuditEntry.action)).all()
        assert "password_changed" in actions


def test_the_account_forms_need_the_csrf_token(alice: Staff) -> None:
    response = alice.client.post(
        "/console/account", data={"name": "X", "locale": "en"}, follow_redirects=False
    )
    assert response.status_code == 403


# --- history and search --------------------------------------------------------------


def test_a_persons_earlier_conversations_are_linked(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    first = new_conversation(engine, settings, address="+32470000001", text="First time")
    change(engine, first, owner=Owner.closed, closed_at=utcnow(), topic="asylum.apply")
    erased = new_conversation(engine, settings, address="+32470000001", text="Gone")
    change(engine, erased, owner=Owner.closed, closed_at=utcnow(), outcome=ERASED)
    other_person = new_conversation(engine, settings, address="+32470000002", text="Other")
    current = new_conversation(engine, settings, address="+32470000001", text="Again")

    page = alice.get(f"/console/conversations/{current}").text

    assert rows(page) == [first]
    assert f'href="/console/conversations/{first}"' in page
    assert f'href="/console/conversations/{other_person}"' not in page
    assert "Earlier conversations with this person" in page


def test_the_conversation_list_filters_by_each_field(
    engine: Engine, settings: Settings, app: FastAPI, alice: Staff, bob: Staff
) -> None:
    now = utcnow()
    pashto = new_conversation(engine, settings, address="1", language="ps", text="a")
    change(
        engine,
        pashto,
        owner=Owner.closed,
        closed_at=now,
        topic="asylum.apply",
        assignee_id=alice.id,
        urgent=True,
    )
    french = new_conversation(
        engine, settings, address="2", language="fr", channel="whatsapp", text="b"
    )
    change(engine, french, owner=Owner.staff, assignee_id=bob.id, topic="health.medical_care")
    old = new_conversation(engine, settings, address="3", language="fr", text="c")
    change(
        engine,
        old,
        owner=Owner.closed,
        closed_at=now - timedelta(days=30),
        opened_at=now - timedelta(days=31),
        last_message_at=now - timedelta(days=30),
    )

    def listed(query: str) -> set[int]:
        response = alice.get(f"/console/conversations?{query}")
        assert response.status_code == 200
        return set(rows(response.text))

    assert listed("") == {pashto, french, old}
    assert listed("language=ps") == {pashto}
    assert listed("channel=whatsapp") == {french}
    assert listed("topic=asylum.apply") == {pashto}
    assert listed("urgent=1") == {pashto}
    assert listed(f"staff_id={bob.id}") == {french}
    today = now.date().isoformat()
    assert listed(f"since={today}") == {pashto, french}
    month_ago = (now - timedelta(days=31)).date().isoformat()
    assert listed(f"until={month_ago}") == {old}
    assert listed("language=fr&channel=telegram") == {old}
    assert listed("language=xx&since=not-a-date") == {pashto, french, old}  # ignored


def test_text_search_finds_kept_words_in_any_script_and_case(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    ukrainian = new_conversation(
        engine, settings, address="1", language="uk", text="Де можна отримати ПОСВІДКУ?"
    )
    pashto = new_conversation(engine, settings, address="2", language="ps", text=PASHTO)
    english = new_conversation(engine, settings, address="3", language="en", text="Hello")
    add_message(
        engine,
        english,
        "Called the Reception Centre in Brussels",
        direction=Direction.note,
        sender=Sender.staff,
    )
    percent = new_conversation(engine, settings, address="4", language="en", text="100% sure")

    def found(q: str) -> list[int]:
        return rows(alice.get(f"/console/conversations?q={q}").text)

    assert found("посвідку") == [ukrainian]
    assert found("کورنۍ") == [pashto]
    assert found("reception centre") == [english]  # notes too, any case
    assert found("%") == [percent]  # a wildcard is just a character
    assert found("nothing like this") == []
    page = alice.get("/console/conversations?q=посвідку").text
    assert "ПОСВІДКУ" in page  # the matching words are shown


def test_search_finds_nothing_deleted_by_retention_or_erased(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    long_ago = utcnow() - timedelta(days=settings.retention_days + 1)
    purged = new_conversation(engine, settings, address="1", text="my case number 4711")
    change(engine, purged, owner=Owner.closed, closed_at=long_ago)
    erased = new_conversation(engine, settings, address="2", text="my case number 4711")
    change(engine, erased, owner=Owner.closed, closed_at=utcnow(), outcome=ERASED)
    kept = new_conversation(engine, settings, address="3", text="my case number 4711")
    with Session(engine) as session:
        purge_expired(session, settings, now=utcnow())
        session.commit()

    assert rows(alice.get("/console/conversations?q=4711").text) == [kept]
    assert erased not in rows(alice.get("/console/conversations").text)


def test_the_conversation_list_pages_back(engine: Engine, settings: Settings, alice: Staff) -> None:
    ids = [new_conversation(engine, settings, address=str(n)) for n in range(52)]
    for n, conversation_id in enumerate(ids):
        change(engine, conversation_id, last_message_at=utcnow() - timedelta(minutes=100 - n))
    first = alice.get("/console/conversations").text
    assert rows(first) == list(reversed(ids))[:50]
    assert 'rel="next"' in first
    second = alice.get("/console/conversations?page=2").text
    assert rows(second) == [ids[1], ids[0]]
    assert 'rel="next"' not in second


# --- machine translation -------------------------------------------------------------


@pytest.fixture
def fake_translate() -> Iterator[FakeTranslateAPI]:
    with FakeTranslateAPI(api_key="translate-key") as fake:
        yield fake


@pytest.fixture
def translating(settings: Settings, fake_translate: FakeTranslateAPI) -> Settings:
    settings.translate_url = fake_translate.url
    settings.translate_api_key = "translate-key"
    settings.translate_timeout_seconds = 2.0
    return settings


def json_post(staff: Staff, path: str, data: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return staff.post(path, data, headers={"accept": "application/json"})


def test_without_a_translation_server_there_is_no_translation(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1", text=PASHTO)
    alice.post(f"/console/conversations/{conversation_id}/claim")
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert "translate-message" not in page and "translate-draft" not in page
    message_id = messages_of(engine, conversation_id)[0].id
    response = json_post(alice, f"/console/messages/{message_id}/translate")
    assert response.status_code == 404
    assert response.json() == {"error": "Machine translation is not set up."}


def messages_of(engine: Engine, conversation_id: int) -> list[Message]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(col(Message.id))
            ).all()
        )


def test_a_persons_message_is_translated_into_the_console_language(
    engine: Engine,
    translating: Settings,
    fake_translate: FakeTranslateAPI,
    alice: Staff,
) -> None:
    fake_translate.learn(PASHTO, "en", "I want to ask about bringing my family")
    conversation_id = new_conversation(engine, translating, address="1", text=PASHTO)
    message_id = messages_of(engine, conversation_id)[0].id
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert f'data-url="/console/messages/{message_id}/translate"' in page
    assert "translate.js" in page

    response = json_post(alice, f"/console/messages/{message_id}/translate")

    assert response.status_code == 200
    assert response.json()["translation"] == "I want to ask about bringing my family"
    assert fake_translate.translated == [
        {"q": PASHTO, "source": "ps", "target": "en", "format": "text", "api_key": "translate-key"}
    ]
    with Session(engine) as session:
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "machine_translation")
        ).one()
        assert (entry.staff_id, entry.target, entry.detail) == (
            alice.id,
            f"message:{message_id}",
            None,
        )


def test_a_draft_is_translated_for_the_reply_box_and_not_sent(
    engine: Engine,
    translating: Settings,
    fake_translate: FakeTranslateAPI,
    alice: Staff,
) -> None:
    conversation_id = new_conversation(engine, translating, address="1", text=PASHTO)
    alice.post(f"/console/conversations/{conversation_id}/claim")
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert "Translate into Pashto" in page

    response = json_post(
        alice,
        f"/console/conversations/{conversation_id}/translate-draft",
        {"text": "You can apply at the Immigration Office."},
    )

    assert response.json()["translation"] == "[ps] You can apply at the Immigration Office."
    assert fake_translate.translated[-1]["source"] == "auto"
    assert fake_translate.translated[-1]["target"] == "ps"
    assert [m.direction for m in messages_of(engine, conversation_id)] == [Direction.inbound]


def test_a_translation_server_that_is_down_gets_a_clear_message(
    engine: Engine,
    translating: Settings,
    fake_translate: FakeTranslateAPI,
    alice: Staff,
) -> None:
    conversation_id = new_conversation(engine, translating, address="1", text=PASHTO)
    message_id = messages_of(engine, conversation_id)[0].id
    fake_translate.fail_next(Fault.error(500), Fault.close())

    for _ in range(2):
        response = json_post(alice, f"/console/messages/{message_id}/translate")
        assert response.status_code == 503
        assert response.json()["error"].startswith("The translation service did not answer")

    alice.post("/console/account", {"name": "alice", "locale": "nl"})
    fake_translate.stop()
    response = json_post(alice, f"/console/messages/{message_id}/translate")
    assert response.status_code == 503
    assert response.json()["error"].startswith("De vertaaldienst antwoordde niet")


def test_only_a_persons_kept_message_can_be_translated(
    engine: Engine, translating: Settings, alice: Staff
) -> None:
    conversation_id = new_conversation(engine, translating, address="1", text=PASHTO)
    staff_note = add_message(
        engine, conversation_id, "internal", direction=Direction.note, sender=Sender.staff
    )
    assert json_post(alice, f"/console/messages/{staff_note}/translate").status_code == 404
    assert json_post(alice, "/console/messages/999999/translate").status_code == 404


def test_translation_needs_a_login_and_the_csrf_token(
    engine: Engine, translating: Settings, app: FastAPI, alice: Staff
) -> None:
    conversation_id = new_conversation(engine, translating, address="1", text=PASHTO)
    message_id = messages_of(engine, conversation_id)[0].id
    no_token = alice.client.post(f"/console/messages/{message_id}/translate")
    assert no_token.status_code == 403
    stranger = make_staff(engine, app, "carol@example.org")
    assert stranger.client.post(f"/console/messages/{message_id}/translate").status_code in (
        401,
        403,
    )
