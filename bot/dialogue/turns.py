"""Turning stored messages into turns for the flow engine.

Quick fragments of text ("hello" / "I have a question" / "about my interview") are one
turn, so they get one answer; a pressed button or a media message is a turn of its
own. A typed "2" (or "two", "۲"), a button's title, or "yes"/"no" in one of the six
languages presses that button, on every channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from bot.dialogue.engine import Turn
from bot.i18n import strip_isolates
from bot.models import Conversation, Direction, Message, Sender
from bot.nlu.text import normalize


def button_title(session: Session, conversation: Conversation, payload: str | None) -> str | None:
    """A pressed button reads as its title in the transcript."""
    if not payload:
        return None
    for button in last_buttons(session, conversation):
        if button["payload"] == payload:
            return strip_isolates(button["title"])
    return None


def last_buttons(session: Session, conversation: Conversation) -> list[dict[str, str]]:
    """The buttons of the bot's last message, if that message had any."""
    buttons = session.exec(
        select(Message.buttons)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.outbound,
            Message.sender == Sender.bot,
        )
        .order_by(col(Message.id).desc())
    ).first()
    return list(buttons or [])


@dataclass
class PendingTurn:
    """One turn for the engine and the stored messages it is made of."""

    turn: Turn
    messages: list[Message] = field(default_factory=list)


def turns_of(
    session: Session, conversation: Conversation, messages: Sequence[Message]
) -> list[PendingTurn]:
    """Quick fragments of text become one turn; a pressed button or media is its own."""
    buttons = last_buttons(session, conversation)
    turns: list[PendingTurn] = []
    for message in messages:
        payload = message.button or typed_button(message.text, buttons)
        last = turns[-1] if turns else None
        if payload:
            turns.append(PendingTurn(Turn(button=payload), [message]))
        elif message.text and last and last.turn.text and not last.turn.button:
            last.turn.text += "\n" + message.text
            last.messages.append(message)
        elif not message.text and last and last.turn.media_type and not last.turn.text:
            last.messages.append(message)
        else:
            turn = Turn(text=message.text, media_type=message.media_type)
            turns.append(PendingTurn(turn, [message]))
    return turns


# Typed instead of pressed, in the six languages: a button's number as a word, and
# "yes"/"no" for the button whose payload ends in ".yes"/".no" (normalised like
# ``bot.nlu.text.normalize``: no accents, one spelling per Arabic-script letter).
NUMBER_WORDS: dict[str, int] = {
    word: number
    for number, words in {
        1: "one first een eerste un une premier premiere один одна перший перша يو یو یک اول",
        2: "two second twee tweede deux deuxieme два дві другий друга دوه دو دوم",
        3: "three third drie derde trois troisieme три третій третя درې سه سوم",
        4: "four fourth vier vierde quatre quatrieme чотири четвертий څلور چهار چهارم",
    }.items()
    for word in normalize(words).split()
}
YES_NO: dict[str, str] = {
    normalize(said): answer
    for answer, answers in {
        "yes": [
            *("yes", "yeah", "yep", "ok", "okay", "sure", "agree", "i agree", "yes please"),
            *("ja", "jazeker", "ja hoor", "akkoord", "ik ga akkoord", "ja akkoord"),
            *("oui", "ouais", "d'accord", "je suis d'accord", "oui d'accord"),
            *("так", "згоден", "згодна", "так згоден", "так згодна", "да"),
            *("هو", "هوکې", "هو موافق یم", "موافق یم"),
            *("بلی", "بله", "آری", "موافقم", "موافق هستم", "بلی موافقم"),
        ],
        "no": [
            *("no", "nope", "no thanks", "i do not agree", "i don't agree"),
            *("nee", "neen", "nee dank je", "niet akkoord"),
            *("non", "non merci", "pas d'accord"),
            *("ні", "нет", "не згоден", "не згодна"),
            *("نه", "نه موافق نه یم", "موافق نه یم"),
            *("نخیر", "نی", "موافق نیستم"),
        ],
    }.items()
    for said in answers
}


def typed_button(text: str | None, buttons: list[dict[str, str]]) -> str | None:
    """The button a typed reply presses, on every channel: its number ("2", "2.",
    "۲", "two"), its title, or "yes"/"no" in one of the six languages for a button
    whose payload ends in ".yes"/".no"."""
    if not buttons or not text or not text.strip():
        return None
    typed = normalize(text)
    number = int(typed) if typed.isdigit() else NUMBER_WORDS.get(typed)
    if number is not None and 1 <= number <= len(buttons):
        return buttons[number - 1]["payload"]
    for button in buttons:
        if normalize(strip_isolates(button["title"])) == typed:
            return button["payload"]
    answer = YES_NO.get(typed)
    if answer:
        for button in buttons:
            if button["payload"].endswith(f".{answer}"):
                return button["payload"]
    return None
