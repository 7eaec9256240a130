"""Each flow, in each of the six languages, through the real inbox and outbox."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.config import LANGUAGES
from bot.hours import OpeningHours
from bot.i18n import LANGUAGE_NAMES, PDI, RLI, speaker
from bot.i18n import answer_text as filled_answer
from bot.models import ContactRecord, Conversation, Message, Owner
from bot.nlu.knowledge import get_knowledge
from tests.support.flows import SAMPLES, SATURDAY, Chat


def said(chat: Chat, lang: str, message: str, **values: object) -> str:
    """What the bot says for ``message`` in ``lang`` (translated), without isolates."""
    from bot.i18n import strip_isolates

    return strip_isolates(speaker(chat.settings.locales_dir, lang).gettext(message, **values))


def answer_text(chat: Chat, topic: str, lang: str) -> str:
    """A topic's answer as the bot sends it (the organisation's details filled in)."""
    answer = get_knowledge(chat.settings).answer(topic, lang).answer
    hours = OpeningHours.from_settings(chat.settings)
    return filled_answer(chat.settings, hours, answer, lang).strip()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_first_question_gets_the_privacy_notice_then_the_answer(chat: Chat, lang: str) -> None:
    chat.settings.org_name = "Vluchtelingenwerk Vlaanderen"  # the notice names whose staff read

    notice = chat.send(SAMPLES[lang]["question"])

    assert len(notice) == 2
    assert "90" in notice[0].text and "/delete" in notice[0].text
    assert "Vluchtelingenwerk Vlaanderen" in notice[0].text
    assert notice[1].payloads == ["consent.yes", "consent.no", "language"]
    assert all(reply.language == lang for reply in notice)

    answer = chat.press("consent.yes")

    assert answer[0].text == answer_text(chat, "asylum.apply", lang)
    assert answer[1].text == said(chat, lang, "Did this help?")
    assert answer[1].payloads == ["helped.yes", "helped.no", "human"]
    assert chat.contact().consent_at is not None


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_unclear_language_gets_a_picker_in_every_script(chat: Chat, lang: str) -> None:
    picker = chat.send("ok")

    assert len(picker) == 1
    assert [b["payload"] for b in picker[0].buttons] == [f"lang:{code}" for code in LANGUAGES]
    titles = [b["title"] for b in picker[0].buttons]
    assert titles[4] == f"{RLI}{LANGUAGE_NAMES['ps']}{PDI}"
    assert titles[5] == f"{RLI}{LANGUAGE_NAMES['fa']}{PDI}"
    for code in LANGUAGES:
        assert said(chat, code, "Which language do you want to write in?") in picker[0].text

    chosen = chat.press(f"lang:{lang}")

    assert chosen[0].text == said(chat, lang, "From now on I will write to you in English.")
    assert chosen[-1].payloads == ["consent.yes", "consent.no", "language"]
    assert chat.contact().language == lang and chat.contact().language_chosen


@pytest.mark.parametrize("lang", LANGUAGES)
def test_what_was_asked_before_consent_is_answered_after_it(chat: Chat, lang: str) -> None:
    chat.send("ok")
    chat.send(SAMPLES[lang]["question"])
    chat.press(f"lang:{lang}")

    answer = chat.press("consent.yes")

    assert answer[0].text == answer_text(chat, "asylum.apply", lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_declining_consent_erases_what_was_written(chat: Chat, lang: str) -> None:
    chat.send(SAMPLES[lang]["question"])

    goodbye = chat.press("consent.no")

    # One message (the only one kept until it is sent): without a phone number or
    # e-mail address configured, the sentences that need them are left out.
    assert goodbye[0].text == "\n".join(
        said(chat, lang, line, emergency="112") for line in _DECLINED
    )
    with Session(chat.engine) as session:
        texts = [m.text for m in session.exec(select(Message)).all()]
    assert texts == [goodbye[0].raw]  # only the goodbye, until it is sent


_DECLINED = (
    "That is all right. We do not keep this conversation and delete what you wrote.",
    "You can write to us again at any time: just send a new message.",
    "Urgent help never waits: in an emergency, call {emergency}, day and night.",
)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_helpful_answer_is_acknowledged(chat: Chat, lang: str) -> None:
    chat.consent(lang)
    chat.send(SAMPLES[lang]["question"])

    reply = chat.press("helped.yes")

    assert [r.text for r in reply] == [
        said(chat, lang, "Good. You can ask another question at any time.")
    ]
    assert chat.conversation().owner == Owner.bot
    assert chat.conversation().topic == "asylum.apply"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_answer_that_did_not_help_offers_other_topics_and_a_person(
    chat: Chat, lang: str
) -> None:
    chat.consent(lang)
    chat.send(SAMPLES[lang]["question"])

    reply = chat.press("helped.no")

    assert reply[0].text == said(
        chat, lang, "I am sorry. Perhaps one of these topics helps. You can also talk to a person."
    )
    assert len(reply) == 1 and reply[0].payloads[-1] == "human"
    assert len(reply[0].payloads) == 3
    assert all(p.startswith("topic:") for p in reply[0].payloads[:2])
    assert "topic:asylum.apply" not in reply[0].payloads
    assert chat.conversation().owner == Owner.bot  # offered, not forced

    chat.press("human")
    conversation = chat.conversation()
    assert conversation.owner == Owner.queue
    # the queue row says why: the answer did not help (issue 19)
    assert conversation.handoff_reason == "not_helpful"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_confident_topic_offers_a_person_and_likely_topics(chat: Chat, lang: str) -> None:
    chat.consent(lang)

    reply = chat.send(SAMPLES[lang]["unknown"])

    assert len(reply) == 1
    assert reply[0].payloads == [
        "topic:asylum.apply",
        "topic:reception.no_place",
        "topic:health.medical_care",
        "human",
    ]
    titles = [t["title"] for t in reply[0].buttons]
    assert (
        titles[0].strip(RLI + PDI)
        == get_knowledge(chat.settings).answer("asylum.apply", lang).title
    )
    assert chat.conversation().owner == Owner.bot  # offered, not forced

    answer = chat.press("topic:reception.no_place")
    assert answer[0].text == answer_text(chat, "reception.no_place", lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_asking_for_a_person_queues_the_conversation(chat: Chat, lang: str) -> None:
    chat.consent(lang)

    reply = chat.send(SAMPLES[lang]["human"])

    assert len(reply) == 1
    assert reply[0].text == strip(
        speaker(chat.settings.locales_dir, lang).ngettext(  # type: ignore[arg-type]
            _WAITING_ONE, _WAITING_OTHER, 0, waiting=0
        )
    )
    assert chat.conversation().owner == Owner.queue
    assert chat.conversation().handoff_reason == "asked"


_WAITING_ONE = (
    "A staff member will answer you here as soon as possible. {waiting} person is "
    "waiting before you. You can keep writing: we read everything."
)
_WAITING_OTHER = (
    "A staff member will answer you here as soon as possible. {waiting} people are "
    "waiting before you. You can keep writing: we read everything."
)


def strip(text: str) -> str:
    from bot.i18n import strip_isolates

    return strip_isolates(text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_outside_opening_hours_the_person_hears_once_when_staff_are_back(
    chat: Chat, lang: str
) -> None:
    chat.now = SATURDAY
    chat.consent(lang)

    reply = chat.send(SAMPLES[lang]["human"])

    assert len(reply) == 1
    assert "42" in reply[0].text  # Saturday 15:00 to Monday 9:00 in Brussels
    assert "112" in reply[0].text
    assert chat.send("...") == []  # waiting in the queue: the bot is silent
    assert chat.conversation().after_hours_notice_at is not None


@pytest.mark.parametrize("lang", LANGUAGES)
def test_urgent_gets_emergency_numbers_first_without_consent(chat: Chat, lang: str) -> None:
    reply = chat.send(SAMPLES[lang]["urgent"])

    assert reply[0].text == said(chat, lang, _EMERGENCY, emergency="112")
    assert reply[1].text == answer_text(chat, "urgent", lang)
    assert all("consent.yes" not in r.payloads for r in reply)
    conversation = chat.conversation()
    assert conversation.owner == Owner.queue
    assert conversation.urgent
    assert conversation.topic == "urgent"
    assert chat.contact().consent_at is None


_EMERGENCY = (
    "If you or someone else is in danger now, call {emergency}. The call is free, day and "
    "night, also without credit or papers."
)


def test_urgent_goes_before_people_who_waited_longer(chat: Chat, engine, settings, flows) -> None:  # type: ignore[no-untyped-def]
    other = Chat(engine, settings, flows, address="person-2")
    other.consent("en")
    other.send(SAMPLES["en"]["human"])

    chat.send(SAMPLES["nl"]["urgent"])

    with Session(engine) as session:
        queue = session.exec(
            select(Conversation)
            .where(Conversation.owner == Owner.queue)
            .order_by(Conversation.urgent.desc(), Conversation.queued_at)  # type: ignore[union-attr]
        ).all()
    assert [c.urgent for c in queue] == [True, False]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_language_can_be_changed_with_a_command(chat: Chat, lang: str) -> None:
    chat.consent("en")

    picker = chat.send("/language")
    assert [b["payload"] for b in picker[0].buttons][:2] == ["lang:nl", "lang:fr"]

    reply = chat.press(f"lang:{lang}")
    assert reply == [r for r in reply if r.language == lang]
    assert reply[0].text == said(chat, lang, "From now on I will write to you in English.")
    assert chat.contact().language == lang

    answer = chat.send(SAMPLES["en"]["question"])
    assert answer[0].text == answer_text(chat, "asylum.apply", lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_what_happens_with_my_data(chat: Chat, lang: str) -> None:
    chat.consent(lang)

    reply = chat.send(SAMPLES[lang]["privacy"])

    assert len(reply) == 1
    assert "90" in reply[0].text
    assert reply[0].payloads == ["delete"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_delete_my_data_asks_first_then_erases(chat: Chat, lang: str) -> None:
    chat.consent(lang)
    chat.send(SAMPLES[lang]["question"])

    confirm = chat.send(SAMPLES[lang]["delete"])
    assert confirm[0].payloads == ["delete.yes", "delete.no"]

    goodbye = chat.press("delete.yes")
    assert goodbye[0].text == said(
        chat,
        lang,
        "Your messages and data are deleted. If you write to us again, we start a new "
        "conversation.",
    )
    with Session(chat.engine) as session:
        assert [m.text for m in session.exec(select(Message)).all()] == [goodbye[0].raw]
        records = session.exec(select(ContactRecord)).all()
    assert len(records) == 1 and records[0].language == lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_greeting_and_thanks_get_their_curated_answers(chat: Chat, lang: str) -> None:
    chat.consent(lang)

    hello = chat.send(SAMPLES[lang]["greeting"])
    thanks = chat.send(SAMPLES[lang]["thanks"])

    assert [r.text for r in hello] == [answer_text(chat, "meta.greeting", lang)]
    assert [r.text for r in thanks] == [answer_text(chat, "meta.thanks", lang)]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_voice_note_is_kept_for_staff_and_answered_in_text(chat: Chat, lang: str) -> None:
    chat.consent(lang)

    reply = chat.send(media_type="audio/ogg", media_ref="voice-file-1")

    assert reply[0].text == said(
        chat,
        lang,
        "I cannot listen to voice messages. Please write your question in a few words, or ask "
        "for a person: a staff member will listen to it during opening hours.",
    )
    assert reply[0].payloads == ["human"]
    with Session(chat.engine) as session:
        stored = session.exec(select(Message).where(Message.media_ref == "voice-file-1")).one()
    assert stored.media_type == "audio/ogg"


@pytest.mark.parametrize("lang", ["ps", "fa"])
def test_right_to_left_lines_are_isolated(chat: Chat, lang: str) -> None:
    reply = chat.send(SAMPLES[lang]["question"])

    for line in reply[0].raw.split("\n"):
        assert line.startswith(RLI) and line.endswith(PDI)


def test_the_demo_shows_clearly_fake_organisation_details(chat: Chat) -> None:
    chat.settings.demo = True  # as `make run` sets it; nothing configured
    chat.send(SAMPLES["en"]["question"])

    goodbye = chat.press("consent.no")

    assert "You can call us: +32 000 00 00 00 (demo) (" in goodbye[0].text
    assert "You can e-mail us: helpline@example.org." in goodbye[0].text


def test_configured_organisation_details_are_said_and_others_left_out(chat: Chat) -> None:
    chat.settings.org_email = "infolijn@example.org"  # a phone number is not configured
    chat.send(SAMPLES["nl"]["question"])

    goodbye = chat.press("consent.no")

    assert "infolijn@example.org" in goodbye[0].text
    assert "{" not in goodbye[0].text and "bellen" not in goodbye[0].text
