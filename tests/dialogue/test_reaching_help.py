"""Conversations that never stand between a person and help (issue 15).

Every rule, in the six languages, on WhatsApp and Telegram (their real webhooks, the
real python-telegram-bot and twilio clients, the fake providers) and on the /try page
(its HTTP API): what the person receives, and what staff see in the console's queue.
The matcher is a fake that knows this module's sentences (``KnownSentences``): these
tests are about the conversations, not about the matcher's accuracy. Staff are at
work around the clock here (``ALWAYS_OPEN``), so the answers do not depend on the hour
the tests run at.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.config import LANGUAGES, Settings
from bot.dialogue.turns import typed_button
from bot.i18n import LANGUAGE_NAMES, speaker, strip_isolates
from bot.i18n import answer_text as filled_answer
from bot.models import AnswerFeedback, Conversation, Message, utcnow
from bot.nlu.knowledge import get_knowledge
from bot.privacy.erasure import WEBCHAT_SHOWN_FOR, finish_erasures
from tests.support.channels import settings_with_fake_providers  # noqa: F401  (the settings)
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI
from tests.support.people import ALWAYS_OPEN, CHANNELS, Helpline, KnownSentences
from tests.support.staff import Staff

# What people write in these tests, per language (written for them; topics below).
QUESTION = {  # asylum.apply
    "nl": "Hoe vraag ik asiel aan in België?",
    "fr": "Comment est-ce que je demande l'asile en Belgique ?",
    "en": "How do I ask for asylum in Belgium?",
    "uk": "Як попросити притулок у Бельгії?",
    "ps": "په بلجیم کې د پناه غوښتنه څنګه وکړم؟",
    "fa": "در بلجیم چطور پناهندگی بخواهم؟",
}
NO_PLACE = {  # reception.no_place: an adult with nowhere to sleep
    "nl": "Ik heb vannacht geen plek om te slapen",
    "fr": "Je n'ai pas d'endroit où dormir cette nuit",
    "en": "Tonight I have no bed anywhere",
    "uk": "Мені сьогодні вночі ніде спати",
    "ps": "نن شپه د خوب لپاره ځای نه لرم",
    "fa": "امشب جای خواب ندارم",
}
ASK_A_PERSON = {  # only a word for a person, with the words around it people add
    "nl": "een medewerker aub",
    "fr": "je veux parler à un conseiller",
    "en": "can I talk to a human please",
    "uk": "з оператором, будь ласка",
    "ps": "زه له یو کس سره خبرې غواړم",
    "fa": "می خواهم با یک کارمند صحبت کنم",
}
NAME_A_LANGUAGE = {
    "nl": "Nederlands graag",
    "fr": "en français svp",
    "en": "English please",
    "uk": "українською",
    "ps": "په پښتو",
    "fa": "به دری لطفا",
}
YES = {"nl": "ja", "fr": "oui", "en": "yes", "uk": "так", "ps": "هو", "fa": "بلی"}
UNCLEAR = "???"

ORG_PHONE = "+32 000 00 00 00 (test)"  # no such number exists
ORG_EMAIL = "infolijn@example.org"

KNOWN = {
    **{text: "asylum.apply" for text in QUESTION.values()},
    **{text: "reception.no_place" for text in NO_PLACE.values()},
}
KNOWN_LANGUAGES = {text: lang for table in (QUESTION, NO_PLACE) for lang, text in table.items()}


def rotating(offset: int, channels: tuple[str, ...] = CHANNELS) -> Any:
    """The six languages, each on one channel, the channels taking turns: the tests of
    one rule together go through every channel (each rule has its own ``offset``, so
    that a language meets each channel across the rules)."""
    cases = [
        (lang, channels[(number + offset) % len(channels)]) for number, lang in enumerate(LANGUAGES)
    ]
    return pytest.mark.parametrize(
        ("lang", "channel"), cases, ids=[f"{lang}-{channel}" for lang, channel in cases]
    )


@pytest.fixture
def helpline(
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_telegram: FakeTelegramAPI,
    fake_twilio: FakeTwilioAPI,
) -> Iterator[Helpline]:
    settings.org_name = "Vluchtelingenwerk Vlaanderen"
    settings.org_phone = ORG_PHONE
    settings.org_email = ORG_EMAIL
    matcher = KnownSentences(KNOWN, KNOWN_LANGUAGES)
    built = Helpline.build(app, client, engine, settings, matcher, fake_telegram, fake_twilio)
    yield built
    built.close()


def said(settings: Settings, lang: str, message: str, **values: object) -> str:
    return strip_isolates(speaker(settings.locales_dir, lang).gettext(message, **values))


def plural(settings: Settings, lang: str, one: str, other: str, n: int, **values: object) -> str:
    return strip_isolates(speaker(settings.locales_dir, lang).ngettext(one, other, n, **values))


def hours(settings: Settings, lang: str) -> str:
    return ALWAYS_OPEN.describe(speaker(settings.locales_dir, lang).locale)


def curated(settings: Settings, topic: str, lang: str) -> str:
    """A topic's answer as the bot sends it (the organisation's details filled in)."""
    answer = get_knowledge(settings).answer(topic, lang).answer
    return filled_answer(settings, ALWAYS_OPEN, answer, lang).strip()


def title(settings: Settings, topic: str, lang: str) -> str:
    return get_knowledge(settings).answer(topic, lang).title


def the_other_ways(settings: Settings, lang: str) -> list[str]:
    return [
        said(
            settings,
            lang,
            "You can call us: {org_phone} ({opening_hours}).",
            org_phone=ORG_PHONE,
            opening_hours=hours(settings, lang),
        ),
        said(settings, lang, "You can e-mail us: {org_email}.", org_email=ORG_EMAIL),
    ]


def urgent_never_waits(settings: Settings, lang: str) -> str:
    return said(
        settings,
        lang,
        "Urgent help never waits: in an emergency, call {emergency}, day and night.",
        emergency="112",
    )


def agree_buttons(settings: Settings, lang: str) -> list[str]:
    return [said(settings, lang, t) for t in ("Yes, I agree", "No", "Other language")]


WAITING_ONE = (
    "A staff member will answer you here as soon as possible. {waiting} person is waiting "
    "before you. You can keep writing: we read everything."
)
WAITING_OTHER = WAITING_ONE.replace("person is", "people are")


def queued(settings: Settings, lang: str, waiting: int = 0) -> str:
    return plural(settings, lang, WAITING_ONE, WAITING_OTHER, waiting, waiting=waiting)


def queue_rows(staff: Staff) -> list[tuple[int, str]]:
    """The waiting conversations in the console's queue, in order: (id, the row's html)."""
    page = staff.get("/console/queue").text
    waiting = (
        page.split('id="waiting"', 1)[1].split("</table>", 1)[0] if 'id="waiting"' in page else ""
    )
    return [
        (int(found.group(1)), found.group(0))
        for found in re.finditer(
            r'<tr class="conversation[^"]*" data-conversation="(\d+)">.*?</tr>', waiting, re.S
        )
    ]


def conversations(engine: Engine) -> list[Conversation]:
    with Session(engine) as session:
        return list(session.exec(select(Conversation).order_by(col(Conversation.id))).all())


# --- a human is always reachable ---------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "channel"),
    list(itertools.product(LANGUAGES, CHANNELS)),
    ids=[f"{lang}-{channel}" for lang, channel in itertools.product(LANGUAGES, CHANNELS)],
)
async def test_a_person_asked_for_before_the_privacy_notice_is_offered_and_nothing_is_lost(
    helpline: Helpline, alice: Staff, lang: str, channel: str
) -> None:
    person = helpline.person(channel)
    settings = helpline.settings

    first = await person.write(ASK_A_PERSON[lang])

    line = said(
        settings,
        lang,
        "A staff member can help you here once you have agreed to our privacy notice.",
    )
    assert first[0].text.split("\n") == [
        line,
        *the_other_ways(settings, lang),
        urgent_never_waits(settings, lang),
    ]
    assert "Vluchtelingenwerk Vlaanderen" in first[1].text and "90" in first[1].text
    assert first[-1].text == said(settings, lang, "Do you agree?")
    assert first[-1].titles == agree_buttons(settings, lang)
    assert queue_rows(alice) == []  # nobody reads it before the person agrees

    agreed = await person.choose(said(settings, lang, "Yes, I agree"))

    assert [h.text for h in agreed] == [queued(settings, lang)]
    (row,) = queue_rows(alice)
    page = alice.get(f"/console/conversations/{row[0]}").text
    assert ASK_A_PERSON[lang].replace("'", "&#39;") in page  # what they wrote reached staff


@rotating(1)
async def test_a_person_asked_for_while_the_notice_waits_keeps_the_question(
    helpline: Helpline, alice: Staff, lang: str, channel: str
) -> None:
    person = helpline.person(channel)
    settings = helpline.settings
    await person.write(QUESTION[lang])

    offered = await person.write(ASK_A_PERSON[lang])

    assert len(offered) == 2  # the notice is not repeated
    assert offered[0].text.startswith(
        said(
            settings,
            lang,
            "A staff member can help you here once you have agreed to our privacy notice.",
        )
    )
    assert offered[1].titles == agree_buttons(settings, lang)

    agreed = await person.write(YES[lang])  # "yes" typed, in their language

    assert agreed[-1].text == queued(settings, lang)
    (row,) = queue_rows(alice)
    page = alice.get(f"/console/conversations/{row[0]}").text
    for written in (QUESTION[lang], ASK_A_PERSON[lang]):
        assert written.replace("'", "&#39;") in page


# --- saying no is respected and useful ---------------------------------------------------


@rotating(2)
async def test_no_to_the_notice_gives_the_other_ways_and_deletes_what_was_written(
    helpline: Helpline, alice: Staff, lang: str, channel: str
) -> None:
    person = helpline.person(channel)
    settings = helpline.settings
    await person.write(QUESTION[lang])

    goodbye = await person.choose(said(settings, lang, "No"))

    assert [h.text.split("\n") for h in goodbye] == [
        [
            said(
                settings,
                lang,
                "That is all right. We do not keep this conversation and delete what you wrote.",
            ),
            *the_other_ways(settings, lang),
            said(settings, lang, "You can write to us again at any time: just send a new message."),
            urgent_never_waits(settings, lang),
        ]
    ]
    # Once the goodbye is out (on /try: once an open page has had time to show it):
    finish_erasures(helpline.engine, settings, now=utcnow() + 2 * WEBCHAT_SHOWN_FOR)
    with Session(helpline.engine) as session:
        assert session.exec(select(Message)).all() == []
    assert queue_rows(alice) == []


# --- language --------------------------------------------------------------------------


@rotating(3)
async def test_a_message_naming_a_language_switches_to_it_at_once(
    helpline: Helpline, lang: str, channel: str
) -> None:
    person = helpline.person(channel)
    settings = helpline.settings

    switched = await person.write(NAME_A_LANGUAGE[lang])

    assert switched[0].text == said(settings, lang, "From now on I will write to you in English.")
    assert all(LANGUAGE_NAMES["uk"] not in h.titles for h in switched)  # no picker
    assert switched[-1].titles == agree_buttons(settings, lang)

    await person.choose(said(settings, lang, "Yes, I agree"))
    other = LANGUAGES[(LANGUAGES.index(lang) + 1) % len(LANGUAGES)]
    again = await person.write(NAME_A_LANGUAGE[other])  # mid-conversation
    answer = await person.write(QUESTION[lang])

    assert again[0].text == said(settings, other, "From now on I will write to you in English.")
    assert answer[0].text == curated(settings, "asylum.apply", other)


@rotating(4)
async def test_a_language_named_while_the_notice_waits_asks_again_in_that_language(
    helpline: Helpline, lang: str, channel: str
) -> None:
    other = "en" if lang != "en" else "nl"
    person = helpline.person(channel)
    settings = helpline.settings
    await person.write(QUESTION[other])

    switched = await person.write(NAME_A_LANGUAGE[lang])
    answer = await person.choose(said(settings, lang, "Yes, I agree"))

    assert switched[0].text == said(settings, lang, "From now on I will write to you in English.")
    assert answer[0].text == curated(settings, "asylum.apply", lang)  # the kept question


# --- buttons by number and by word, on every channel -----------------------------------


@rotating(5)
async def test_buttons_are_chosen_by_number_or_a_yes_in_the_persons_language(
    helpline: Helpline, lang: str, channel: str
) -> None:
    person = helpline.person(channel)
    settings = helpline.settings
    await person.write(QUESTION[lang])

    answer = await person.write("1.")  # "Yes, I agree"
    good = await person.write(YES[lang])  # "Did this help?" - "Yes"

    assert answer[0].text == curated(settings, "asylum.apply", lang)
    assert good[0].text == said(settings, lang, "Good. You can ask another question at any time.")
    with Session(helpline.engine) as session:
        counted = session.exec(select(AnswerFeedback)).all()
    assert [(f.topic, f.helped, f.language) for f in counted] == [("asylum.apply", True, lang)]


@pytest.mark.parametrize(
    "typed",
    [
        "1",
        "1.",
        "1)",
        " 1 ",
        "one",
        "een",
        "un",
        "один",
        "یو",
        "یک",
        "۱",
        "١",
        "Yes, I agree",
        "yes",
        "Ja",
        "oui",
        "так",
        "هو",
        "بلی",
        "OK",
    ],
)
def test_what_can_be_typed_for_the_first_button(typed: str) -> None:
    buttons = [
        {"payload": "consent.yes", "title": "Yes, I agree"},
        {"payload": "consent.no", "title": "No"},
        {"payload": "language", "title": "Other language"},
    ]
    assert typed_button(typed, buttons) == "consent.yes"


@pytest.mark.parametrize("typed", ["no", "nee", "non", "ні", "نه", "نخیر", "2", "two", "۲"])
def test_what_can_be_typed_for_no(typed: str) -> None:
    buttons = [
        {"payload": "helped.yes", "title": "Yes"},
        {"payload": "helped.no", "title": "No"},
        {"payload": "human", "title": "Talk to a person"},
    ]
    assert typed_button(typed, buttons) == "helped.no"


@rotating(6)
async def test_a_reply_that_is_no_button_is_a_new_question(
    helpline: Helpline, lang: str, channel: str
) -> None:
    person = helpline.person(channel)
    settings = helpline.settings
    await person.write(QUESTION[lang])
    await person.write(YES[lang])

    answer = await person.write(NO_PLACE[lang])  # while "Did this help?" waits

    assert answer[0].text == curated(settings, "reception.no_place", lang)


@rotating(7)
async def test_an_unclear_answer_to_the_notice_is_explained_twice_then_a_person_is_offered(
    helpline: Helpline, lang: str, channel: str
) -> None:
    person = helpline.person(channel)
    settings = helpline.settings
    await person.write(QUESTION[lang])
    explain = said(
        settings,
        lang,
        "To go on, please answer “yes” or “no”, or type the number of an answer below. Then I "
        "will answer your question.",
    )

    first = await person.write(UNCLEAR)
    second = await person.write(UNCLEAR)
    third = await person.write(UNCLEAR)

    for reply in (first, second):
        assert [h.text for h in reply] == [explain]
        assert reply[0].titles == [
            *agree_buttons(settings, lang),
            said(settings, lang, "Talk to a person"),
        ]
    assert third[0].text.startswith(
        said(
            settings,
            lang,
            "A staff member can help you here once you have agreed to our privacy notice.",
        )
    )
    assert third[-1].titles == agree_buttons(settings, lang)

    answer = await person.choose(said(settings, lang, "Yes, I agree"))
    assert answer[0].text == curated(settings, "asylum.apply", lang)  # nothing was lost


# --- "did this help?" --------------------------------------------------------------------


@rotating(8)
async def test_an_answer_that_did_not_help_offers_two_closest_topics_and_a_person(
    helpline: Helpline, lang: str, channel: str
) -> None:
    person = helpline.person(channel)
    settings = helpline.settings
    await person.write(QUESTION[lang])
    await person.write(YES[lang])

    sorry = await person.choose(said(settings, lang, "No"))

    assert sorry[0].text == said(
        settings,
        lang,
        "I am sorry. Perhaps one of these topics helps. You can also talk to a person.",
    )
    assert sorry[0].titles == [
        title(settings, "asylum.procedure", lang),
        title(settings, "asylum.documents", lang),
        said(settings, lang, "Talk to a person"),
    ]
    with Session(helpline.engine) as session:
        counted = session.exec(select(AnswerFeedback)).all()
    assert [(f.topic, f.helped) for f in counted] == [("asylum.apply", False)]

    other = await person.choose(title(settings, "asylum.procedure", lang))
    assert other[0].text == curated(settings, "asylum.procedure", lang)


# --- priority without emergency -----------------------------------------------------------


@rotating(9)
async def test_nowhere_to_sleep_gets_the_reception_answer_and_staff_priority(
    helpline: Helpline, alice: Staff, lang: str, channel: str
) -> None:
    settings = helpline.settings
    # Asked for a person first, so waits longer; on the same channel, because a web chat
    # waits below the real channels whatever its priority (HELPLINE_WEBCHAT_QUEUE).
    earlier = helpline.person(channel)
    await earlier.write(NAME_A_LANGUAGE["en"])
    await earlier.write("yes")
    await earlier.write("human")

    person = helpline.person(channel)
    await person.write(NAME_A_LANGUAGE[lang])
    await person.write(YES[lang])
    answer = await person.write(NO_PLACE[lang])

    assert answer[0].text == curated(settings, "reception.no_place", lang)
    emergency = "If you or someone else is in danger now, call {emergency}."
    assert all(
        not h.text.startswith(said(settings, lang, emergency, emergency="112")[:20]) for h in answer
    )

    waiting = await person.choose(said(settings, lang, "Talk to a person"))

    assert waiting[-1].text == queued(settings, lang, 0)  # before the one who waited longer
    rows = queue_rows(alice)
    mine = next(c for c in conversations(helpline.engine) if c.priority)
    assert len(rows) == 2 and rows[0][0] == mine.id
    assert "Priority" in rows[0][1] and "Priority" not in rows[1][1]
    assert not mine.urgent and mine.topic == "reception.no_place"


# --- voice notes, photos -------------------------------------------------------------------


VOICE = (
    "I cannot listen to voice messages. Please write your question in a few words, or ask for "
    "a person: a staff member will listen to it during opening hours."
)
PHOTO = (
    "I cannot look at photos or videos. Please write your question in a few words, or ask for "
    "a person: a staff member will look at it during opening hours."
)


@rotating(0, ("whatsapp", "telegram"))
@pytest.mark.parametrize(
    ("kind", "message", "shown"), [("voice", VOICE, "<audio"), ("photo", PHOTO, "<img")]
)
async def test_a_voice_note_or_photo_is_acknowledged_and_shown_to_staff(
    helpline: Helpline, alice: Staff, lang: str, channel: str, kind: str, message: str, shown: str
) -> None:
    person = helpline.person(channel)
    settings = helpline.settings
    await person.write(NAME_A_LANGUAGE[lang])
    await person.write(YES[lang])

    reply = await person.send_media(kind)

    assert [h.text for h in reply] == [said(settings, lang, message)]
    assert reply[0].titles == [said(settings, lang, "Talk to a person")]

    await person.choose(said(settings, lang, "Talk to a person"))
    (row,) = queue_rows(alice)
    assert shown in alice.get(f"/console/conversations/{row[0]}").text
