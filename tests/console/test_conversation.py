from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.app import create_app
from bot.config import Settings
from bot.models import (
    AuditEntry,
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    Owner,
    utcnow,
)
from tests.support.factories import add_conversation, add_staff
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.staff import Staff, log_in


def new_conversation(engine: Engine, settings: Settings, **kwargs: object) -> int:
    with Session(engine) as session:
        conversation = add_conversation(session, settings, **kwargs)  # type: ignore[arg-type]
        session.commit()
        assert conversation.id is not None
        return conversation.id


def stored(engine: Engine, conversation_id: int) -> Conversation:
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation


def messages(engine: Engine, conversation_id: int) -> list[Message]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(col(Message.id))
            ).all()
        )


def audit_log(engine: Engine) -> list[tuple[str, int | None, str | None]]:
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [(e.action, e.staff_id, e.target) for e in entries if e.action != "login"]


def test_queue_shows_urgent_first_with_language_channel_and_last_words(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    now = utcnow()
    new_conversation(
        engine,
        settings,
        address="1",
        language="fr",
        text="Bonjour, j'ai une question",
        queued_at=now - timedelta(minutes=40),
    )
    new_conversation(
        engine,
        settings,
        address="2",
        language="ps",
        urgent=True,
        text="مرسته غواړم",
        queued_at=now - timedelta(minutes=2),
    )
    new_conversation(engine, settings, address="3", owner=Owner.bot, text="bot only")
    page = alice.get("/console/queue").text
    assert page.index("مرسته غواړم") < page.index("Bonjour, j&#39;ai une question")
    assert "Pashto" in page and "French" in page
    assert "bot only" not in page
    assert "40 min" in page
    assert 'class="conversation urgent"' in page


def test_what_a_person_writes_is_shown_as_text_never_run(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    conversation_id = new_conversation(engine, settings, address="1", language="en", text=attack)
    for path in ("/console/queue", f"/console/conversations/{conversation_id}"):
        page = alice.get(path).text
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_claiming_gives_the_conversation_to_one_staff_member(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    response = alice.post(f"/console/conversations/{conversation_id}/claim")
    assert response.status_code == 303
    assert stored(engine, conversation_id).assignee_id == alice.id
    late = bob.post(f"/console/conversations/{conversation_id}/claim")
    assert late.status_code == 409
    assert "Someone else already took this conversation" in late.text
    assert stored(engine, conversation_id).assignee_id == alice.id
    assert audit_log(engine) == [("claim", alice.id, f"conversation:{conversation_id}")]


def test_take_the_next_conversation_takes_the_urgent_one(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    new_conversation(engine, settings, address="1", queued_at=utcnow() - timedelta(hours=1))
    urgent = new_conversation(engine, settings, address="2", urgent=True)
    response = alice.post("/console/queue/next")
    assert response.headers["location"] == f"/console/conversations/{urgent}"


def test_claiming_a_missing_conversation_is_not_found(alice: Staff) -> None:
    assert alice.post("/console/conversations/999/claim").status_code == 404
    assert alice.get("/console/conversations/999").status_code == 404


def test_release_puts_it_back_for_colleagues(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    assert bob.post(f"/console/conversations/{conversation_id}/release").status_code == 409
    assert alice.post(f"/console/conversations/{conversation_id}/release").status_code == 303
    assert stored(engine, conversation_id).owner == Owner.queue
    assert bob.post(f"/console/conversations/{conversation_id}/claim").status_code == 303


def test_transfer_hands_it_to_a_colleague(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    response = alice.post(
        f"/console/conversations/{conversation_id}/transfer", {"to_staff_id": str(bob.id)}
    )
    assert response.status_code == 303
    assert stored(engine, conversation_id).assignee_id == bob.id
    assert "transfer" in [action for action, _, _ in audit_log(engine)]
    # Alice no longer holds it.
    assert alice.post(f"/console/conversations/{conversation_id}/release").status_code == 409


def test_close_needs_a_known_topic_and_outcome(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    path = f"/console/conversations/{conversation_id}/close"
    assert alice.post(path, {"topic": "made.up", "outcome": "answered"}).status_code == 400
    assert alice.post(path, {"topic": "asylum.apply", "outcome": "shrug"}).status_code == 400
    assert alice.post(path, {"topic": "asylum.apply", "outcome": "answered"}).status_code == 303
    closed = stored(engine, conversation_id)
    assert (closed.owner, closed.topic, closed.outcome) == (
        Owner.closed,
        "asylum.apply",
        "answered",
    )
    assert closed.closed_at is not None


def test_only_the_holder_may_close(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    response = bob.post(
        f"/console/conversations/{conversation_id}/close",
        {"topic": "asylum.apply", "outcome": "answered"},
    )
    assert response.status_code == 409
    assert stored(engine, conversation_id).owner == Owner.staff


def test_a_reply_goes_into_the_outbox_and_shows_its_status(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1", language="en")
    path = f"/console/conversations/{conversation_id}/reply"
    assert alice.post(path, {"text": "Hello, how can we help?"}).status_code == 409
    alice.post(f"/console/conversations/{conversation_id}/claim")
    response = alice.post(path, {"text": "Hello, how can we help?"})
    assert response.status_code == 303
    sent = [m for m in messages(engine, conversation_id) if m.direction == Direction.outbound]
    assert [(m.text, m.sender, m.staff_id, m.status) for m in sent] == [
        ("Hello, how can we help?", "staff", alice.id, MessageStatus.queued)
    ]
    assert stored(engine, conversation_id).first_response_at is not None
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert "Hello, how can we help?" in page
    assert "status-queued" in page
    assert ("reply", alice.id, f"conversation:{conversation_id}") in audit_log(engine)


def test_an_empty_reply_is_refused(engine: Engine, settings: Settings, alice: Staff) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    response = alice.post(f"/console/conversations/{conversation_id}/reply", {"text": "   "})
    assert response.status_code == 400
    assert not [m for m in messages(engine, conversation_id) if m.direction == "out"]


def test_delivery_status_shows_on_the_conversation_page(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    alice.post(f"/console/conversations/{conversation_id}/reply", {"text": "one"})
    with Session(engine) as session:
        message = session.exec(select(Message).where(Message.direction == "out")).one()
        message.status = MessageStatus.failed
        message.last_error = "bot was blocked by the user"
        session.commit()
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert "status-failed" in page
    assert "bot was blocked by the user" in page


def test_whatsapp_after_24_hours_sends_the_template_first(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    settings.twilio_template_sids = {"fr": "HXfrench", "en": "HXenglish"}
    conversation_id = new_conversation(
        engine, settings, address="whatsapp:+32470123456", channel="whatsapp", language="fr"
    )
    with Session(engine) as session:
        contact = session.exec(select(Contact)).one()
        contact.last_inbound_at = utcnow() - timedelta(hours=30)
        session.commit()
    alice.post(f"/console/conversations/{conversation_id}/claim")
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert "24-hour WhatsApp window is closed" in page
    response = alice.post(f"/console/conversations/{conversation_id}/reply", {"text": "Bonjour"})
    assert response.headers["location"].endswith("?notice=held")
    outbound = [m for m in messages(engine, conversation_id) if m.direction == "out"]
    held = [m for m in outbound if m.text == "Bonjour"]
    assert [m.status for m in held] == [MessageStatus.held]
    templates = [(m.template_sid, m.status) for m in outbound if m.template_sid]
    assert templates == [("HXfrench", MessageStatus.queued)]


def test_whatsapp_within_24_hours_sends_at_once(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = new_conversation(
        engine, settings, address="whatsapp:+32470123456", channel="whatsapp", language="fr"
    )
    with Session(engine) as session:
        contact = session.exec(select(Contact)).one()
        contact.last_inbound_at = utcnow() - timedelta(hours=2)
        session.commit()
    alice.post(f"/console/conversations/{conversation_id}/claim")
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert "24-hour WhatsApp window is closed" not in page
    alice.post(f"/console/conversations/{conversation_id}/reply", {"text": "Bonjour"})
    outbound = [m for m in messages(engine, conversation_id) if m.direction == "out"]
    assert [(m.text, m.status) for m in outbound] == [("Bonjour", MessageStatus.queued)]


def test_a_canned_answer_reply_records_its_topic(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1", language="ps")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    alice.post(
        f"/console/conversations/{conversation_id}/reply",
        {"text": "canned text", "topic": "asylum.apply"},
    )
    outbound = [m for m in messages(engine, conversation_id) if m.direction == "out"]
    assert [m.topic for m in outbound] == ["asylum.apply"]


def test_canned_answers_show_the_pashto_text_next_to_the_staff_language(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    from bot.nlu.knowledge import load_knowledge

    kb = load_knowledge(settings.knowledge_dir)
    pashto, english = kb.answer("asylum.apply", "ps"), kb.answer("asylum.apply", "en")
    conversation_id = new_conversation(engine, settings, address="1", language="ps")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert pashto.answer.splitlines()[0] in page
    assert english.answer.splitlines()[0].replace("'", "&#39;") in page
    assert 'lang="ps"' in page and 'dir="auto"' in page


def test_internal_notes_stay_inside(engine: Engine, settings: Settings, alice: Staff) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    response = alice.post(
        f"/console/conversations/{conversation_id}/note", {"text": "Called the lawyer"}
    )
    assert response.status_code == 303
    [note] = messages(engine, conversation_id)
    assert (note.direction, note.status, note.staff_id) == ("note", "handled", alice.id)
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert "Internal note by alice" in page
    assert "Called the lawyer" in page


def test_staff_see_a_masked_address_and_only_admins_reveal_it(
    engine: Engine, settings: Settings, alice: Staff, admin: Staff
) -> None:
    conversation_id = new_conversation(
        engine, settings, address="whatsapp:+32470123456", channel="whatsapp"
    )
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert "+32470123456" not in page
    assert "456" in page
    assert "Reveal" not in page
    assert alice.post(f"/console/conversations/{conversation_id}/reveal").status_code == 403
    revealed = admin.post(f"/console/conversations/{conversation_id}/reveal")
    assert revealed.status_code == 200
    assert "whatsapp:+32470123456" in revealed.text
    assert [a for a in audit_log(engine) if a[0] == "reveal"] == [("reveal", admin.id, "contact:1")]


def test_every_state_change_needs_the_csrf_token(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    response = alice.client.post(
        f"/console/conversations/{conversation_id}/claim", follow_redirects=False
    )
    assert response.status_code == 403
    assert stored(engine, conversation_id).owner == Owner.queue


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegramAPI]:
    # A token without ":" because the shared fake does not decode "%3A" in file
    # download paths yet (python-telegram-bot quotes the token there).
    with FakeTelegramAPI(token="123456-console-test") as fake:
        yield fake


@pytest.fixture
def telegram_app(settings: Settings, engine: Engine, fake_telegram: FakeTelegramAPI) -> FastAPI:
    fake_telegram.configure(settings)
    return create_app(settings, engine)


def test_a_voice_note_plays_through_the_console(
    engine: Engine, settings: Settings, telegram_app: FastAPI, fake_telegram: FakeTelegramAPI
) -> None:
    fake_telegram.add_file("voice-1", b"OggS-fake-voice", "voice/file_1.oga")
    with Session(engine) as session:
        conversation = add_conversation(session, settings, address="42", language="fa")
        message = Message(
            conversation_id=conversation.id,
            channel="telegram",
            direction="in",
            sender="user",
            media_type="audio/ogg",
            media_ref="voice-1",
            provider_message_id="v1",
        )
        session.add(message)
        session.commit()
        conversation_id, message_id = conversation.id, message.id
    with Session(engine) as session:
        add_staff(session, "carol@example.org")
        session.commit()
    with TestClient(telegram_app, headers={"accept": "text/html"}) as client:
        log_in(client, "carol@example.org")
        page = client.get(f"/console/conversations/{conversation_id}").text
        assert f'<audio controls preload="none" src="/console/media/{message_id}">' in page
        media = client.get(f"/console/media/{message_id}")
    assert media.status_code == 200
    assert media.content == b"OggS-fake-voice"
    assert "sandbox" in media.headers["content-security-policy"]


def test_media_needs_a_login(client: TestClient) -> None:
    assert client.get("/console/media/1").status_code == 401


def test_a_form_with_a_missing_field_gets_a_clear_error_page(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    response = alice.post(f"/console/conversations/{conversation_id}/close", {"topic": "other"})
    assert response.status_code == 400
    assert "The form is incomplete" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert stored(engine, conversation_id).owner == Owner.staff


def test_an_admin_may_release_a_colleagues_conversation(
    engine: Engine, settings: Settings, alice: Staff, admin: Staff
) -> None:
    conversation_id = new_conversation(engine, settings, address="1")
    alice.post(f"/console/conversations/{conversation_id}/claim")
    assert admin.post(f"/console/conversations/{conversation_id}/release").status_code == 303
    assert stored(engine, conversation_id).owner == Owner.queue
