"""STOP in any of the six languages ends broadcasts (not the conversation); START undoes it."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.broadcasts.audience import Audience, count_by_language
from bot.config import LANGUAGES
from bot.i18n import speaker, strip_isolates
from bot.models import Contact, Message
from tests.support.flows import SAMPLES, Chat

STOPPED = (
    "You will get no more messages sent to everyone. You can still write to us at any time. "
    "To get them again, send START."
)
STARTED = "You will get our messages to everyone again, in your language. To stop them, send STOP."
STOP_WORDS = {
    "en": ["STOP", "stop", "/stop", "Stop please"],
    "nl": ["stoppen", "STOP", "afmelden"],
    "fr": ["arrêter", "Arrêter", "stop"],
    "uk": ["стоп", "СТОП", "відписатися"],
    "ps": ["بند", "ودروه"],
    "fa": ["توقف", "بس"],
}
START_WORDS = {
    "en": "START",
    "nl": "start",
    "fr": "reprendre",
    "uk": "підписатися",
    "ps": "پیل",
    "fa": "شروع",
}


def said(chat: Chat, lang: str, message: str) -> str:
    return strip_isolates(speaker(chat.settings.locales_dir, lang).gettext(message))


def opted_out(chat: Chat) -> bool:
    return chat.contact().broadcasts_opted_out_at is not None


def audience_size(chat: Chat) -> int:
    with Session(chat.engine) as session:
        counts = count_by_language(session, Audience(), now=chat.now)
    return sum(counts.values())


@pytest.mark.parametrize(
    ("lang", "word"), [(lang, word) for lang in LANGUAGES for word in STOP_WORDS[lang]]
)
def test_a_stop_word_ends_broadcasts_and_says_so_in_their_language(
    chat: Chat, lang: str, word: str
) -> None:
    chat.channel = "telegram"
    chat.consent(lang)
    chat.send(SAMPLES[lang]["question"])
    assert audience_size(chat) == 1

    reply = chat.send(word)

    assert [r.text for r in reply] == [said(chat, lang, STOPPED)]
    assert opted_out(chat)
    assert audience_size(chat) == 0
    # the conversation goes on: nothing was erased, and questions are still answered
    with Session(chat.engine) as session:
        assert session.exec(select(Message).where(Message.text == word)).first() is not None
    assert chat.send(SAMPLES[lang]["question"])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_start_brings_broadcasts_back(chat: Chat, lang: str) -> None:
    chat.channel = "whatsapp"
    chat.address = "whatsapp:+32470001122"
    chat.consent(lang)
    chat.send("STOP")

    reply = chat.send(START_WORDS[lang])

    assert [r.text for r in reply] == [said(chat, lang, STARTED)]
    assert not opted_out(chat)
    assert audience_size(chat) == 1


def test_stop_before_choosing_a_language_still_works(chat: Chat) -> None:
    """A person who never got past the first question can still say no more."""
    reply = chat.send("стоп")

    assert [r.text for r in reply] == [said(chat, "uk", STOPPED)]
    assert opted_out(chat)


def test_slash_stop_no_longer_deletes_their_data(chat: Chat) -> None:
    chat.consent("en")
    chat.send(SAMPLES["en"]["question"])

    chat.send("/stop")

    with Session(chat.engine) as session:
        assert session.exec(select(Contact)).one().broadcasts_opted_out_at is not None
        assert len(session.exec(select(Message)).all()) > 4
