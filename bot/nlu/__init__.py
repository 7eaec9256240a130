"""Understanding a message: the knowledge base, language identification, the matcher.

``knowledge`` loads and checks ``knowledge/``; ``language`` (with ``langid_model``)
tells which of the six languages a message is in; ``urgent`` catches emergencies;
``matcher`` (with ``features`` and ``classifier``) picks the topic that answers a
message, or abstains; ``rasa`` lets a Rasa server pick it instead; ``evaluation``
scores a matcher. Here is the matcher's contract with the rest of helpline: ``Match``,
the ``Matcher`` every backend is, and ``get_matcher``, which picks the backend
(``HELPLINE_NLU``). Nothing in this package touches the database (what is published
there, ``bot.kb.live`` hands to these same classes); nothing downloads anything or
needs a server but the Rasa backend, when chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["Match", "Matcher", "backend", "get_matcher"]


@dataclass(frozen=True)
class Match:
    """A matcher's answer for one message."""

    topic: str | None  # None = abstain
    score: float  # 0..1
    lang: str  # the reply language: the chosen one if given, else detected
    detected_lang: str
    lang_confidence: float
    urgent: bool  # topic == "urgent"
    candidates: tuple[str, ...]  # up to 3 likely faq topics, best first
    # When urgent: the kind of emergency whose specialised answer to give
    # (``urgent.<kind>`` in the knowledge base; None: the general one).
    urgent_kind: str | None = None
    # Abstained because only staff can answer: one person's own file or a named third
    # person ("is my brother still in the centre in X"); the bot says it cannot see files.
    staff_only: bool = False
    # Not an emergency answer, but a person may be at risk, and staff see it first:
    # "sleeping_outside" (an adult with nowhere to sleep) or "possible_emergency" (reads a
    # little like an emergency; the answer reminds of the emergency number).
    at_risk: str | None = None


class Matcher(Protocol):
    """An NLU backend: what the dialogue engine and the inbox ask of it."""

    def match(self, text: str, lang: str | None = None) -> Match:
        """The topic that answers ``text`` (``lang``: the language chosen, if any)."""
        ...


def get_matcher(settings: Settings) -> Matcher:
    """The built-in matcher of ``settings.knowledge_dir``, trained once and cached under
    var/; with ``HELPLINE_NLU=rasa``, the Rasa backend around it (docs/rasa.md). The bot
    and ``helpline match`` use ``bot.kb.live.matcher``: the published knowledge base's."""
    # Imported when called: every import of a bot.nlu module runs this one, and most
    # need neither numpy nor the model.
    from bot.nlu.matcher import builtin_matcher

    return backend(settings, builtin_matcher(settings))


def backend(settings: Settings, builtin: Matcher) -> Matcher:
    """The configured backend around ``builtin``: itself, or Rasa falling back on it."""
    if settings.nlu == "rasa":
        from bot.nlu.matcher import Matcher as BuiltinMatcher
        from bot.nlu.rasa import rasa_matcher

        assert isinstance(builtin, BuiltinMatcher)
        return rasa_matcher(settings, builtin)
    return builtin
