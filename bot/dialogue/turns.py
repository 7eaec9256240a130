"""Turning stored messages into turns for the flow engine.

Quick fragments of text ("hello" / "I have a question" / "about my interview") are one
turn, so they get one answer; a pressed button or a media message is a turn of its
own. A typed "2" or a button's title presses that button.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from bot import channels
from bot.dialogue.engine import Turn
from bot.i18n import strip_isolates
from bot.models import Conversation, Direction, Message, Sender


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
        payload = message.button or typed_button(conversation.channel, message.text, buttons)
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


def typed_button(channel: str, text: str | None, buttons: list[dict[str, str]]) -> str | None:
    """A typed "2" presses the second button where buttons are numbered (WhatsApp);
    typing a button's title presses it everywhere."""
    typed = (text or "").strip().rstrip(".)").casefold()
    if not typed or not buttons:
        return None
    numbered = channels.transport(channel).numbered_buttons
    if numbered and typed.isdigit() and 1 <= int(typed) <= len(buttons):
        return buttons[int(typed) - 1]["payload"]
    for button in buttons:
        if strip_isolates(button["title"]).strip().casefold() == typed:
            return button["payload"]
    return None
