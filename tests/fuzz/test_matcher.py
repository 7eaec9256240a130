"""Fuzzing the matcher and language identification: any text gets a sane answer, and a
100 kB message costs bounded memory."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given

from bot.config import LANGUAGES, Settings
from bot.nlu import Match, get_matcher
from bot.nlu.language import detect_language
from tests.fuzz.strategies import FUZZ, TRICKY, any_text

MEMORY_BOUND = 64 * 1024 * 1024  # for a 100 kB message


@pytest.fixture(scope="module")
def matcher() -> object:
    return get_matcher(Settings(env="test"))


def assert_sane(match: Match) -> None:
    assert match.lang in LANGUAGES and match.detected_lang in LANGUAGES
    assert 0.0 <= match.score <= 1.0 and 0.0 <= match.lang_confidence <= 1.0
    assert match.urgent == (match.topic == "urgent")
    assert len(match.candidates) <= 3


@FUZZ
@given(text=any_text)
def test_any_text_gets_a_topic_or_an_abstention_in_a_known_language(
    matcher: object, text: str
) -> None:
    match = matcher.match(text)  # type: ignore[attr-defined]

    assert_sane(match)
    guess = detect_language(text)
    assert guess.lang in LANGUAGES and 0.0 <= guess.confidence <= 1.0


@FUZZ
@given(text=any_text)
def test_a_chosen_language_is_always_the_reply_language(matcher: object, text: str) -> None:
    assert matcher.match(text, lang="ps").lang == "ps"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 100_000,
        ("مرسته\u200c\u202e" * 20_000)[:100_000],
        (TRICKY * 2_000)[:100_000],
        " ".join(str(i) for i in range(20_000))[:100_000],
        "\u200b" * 100_000,
    ],
    ids=["one-letter", "pashto-zwnj-rtl", "tricky", "many-words", "zero-width"],
)
def test_a_100_kb_message_is_matched_in_bounded_memory(matcher: object, text: str) -> None:
    matcher.match("warm up")  # type: ignore[attr-defined]
    tracemalloc.start()
    try:
        match = matcher.match(text)  # type: ignore[attr-defined]
        guess = detect_language(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert_sane(match)
    assert guess.lang in LANGUAGES
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB for {len(text)} characters"
