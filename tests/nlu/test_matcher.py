from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.knowledge import cached_knowledge, load_knowledge
from bot.nlu.matcher import Matcher, knowledge_fingerprint, load_or_train
from tests.nlu.helpers import KNOWLEDGE, KnowledgeWriter, topic_data


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("waar moet ik naartoe om asiel te vragen in brussel?", "asylum.apply"),
        ("ik zoek een gratis advocaat voor mijn asielprocedure", "asylum.lawyer"),
        ("comment faire venir ma femme et mes enfants en belgique", "family.reunification"),
        ("est ce que je peux travailler pendant ma procédure d'asile", "work.permission"),
        (
            "my asylum was refused, how do i appeal and how much time do i have",
            "asylum.negative_decision",
        ),
        ("how do i register my kids at a school here", "education.children"),
        ("як продовжити тимчасовий захист і картку А", "ukraine.temporary_protection"),
        ("де записатися на курси нідерландської мови", "education.language"),
        ("د CGVS مرکې ته ځان څنګه چمتو کړم", "asylum.interview"),
        ("زما په ګوتو نښې په اتریش کې اخیستل شوي، بلجیم به مې بېرته ولېږي؟", "asylum.dublin"),
        ("بعد از مثبت شدن کارت اقامت را از کجا بگیرم", "asylum.recognized"),
        ("داکتر خوب کجا پیدا کنم و پولش را کی میدهد", "health.medical_care"),
    ],
)
def test_questions_get_the_topic_that_answers_them(matcher: Matcher, text: str, topic: str) -> None:
    assert matcher.match(text).topic == topic


@pytest.mark.parametrize(
    "text",
    [
        "wie wordt de volgende president van amerika denk je",
        "mijn tomatenplanten krijgen gele bladeren",
        "quel shampoing contre les pellicules",
        "ma voiture fait un bruit bizarre quand je freine",
        "which shampoo works against dandruff",
        "when is the next big concert in antwerp",
        "хто буде наступним президентом америки як думаєте",
        "у помідорів жовтіють листки що робити",
        "ستاسو په نظر د امریکا راتلونکی ولسمشر به څوک وي",
        "د رومیانو پاڼې مې ژېړې شوې",
        "به نظر شما رئیس جمهور بعدی امریکا کیست",
        "کنسرت بعدی در بروکسل کی است",
    ],
)
def test_unrelated_chit_chat_gets_no_topic(matcher: Matcher, text: str) -> None:
    found = matcher.match(text)

    assert found.topic is None
    assert not found.urgent


def test_the_chosen_language_wins_over_the_detected_one(matcher: Matcher) -> None:
    found = matcher.match("where can i learn dutch for free", lang="fr")

    assert found.lang == "fr"
    assert found.detected_lang == "en"
    assert found.topic == "education.language"


def test_without_a_chosen_language_the_reply_is_in_the_detected_one(matcher: Matcher) -> None:
    found = matcher.match("waar kan ik gratis Nederlands leren")

    assert (found.lang, found.detected_lang) == ("nl", "nl")


def test_candidates_are_up_to_three_faq_topics_best_first(matcher: Matcher) -> None:
    found = matcher.match("papieren")
    kinds = {cached_knowledge(KNOWLEDGE.resolve()).topics[c].kind for c in found.candidates}

    assert 1 <= len(found.candidates) <= 3
    assert kinds == {"faq"}


def test_an_empty_message_abstains(matcher: Matcher) -> None:
    found = matcher.match("   ")

    assert found.topic is None
    assert 0.0 <= found.score <= 1.0


def test_scores_stay_between_zero_and_one(matcher: Matcher) -> None:
    for text in ("hallo", "asiel", "ik wil asiel aanvragen in brussel", "x" * 500):
        assert 0.0 <= matcher.match(text).score <= 1.0


def test_typos_missing_accents_and_letter_variants_do_not_change_the_answer(
    matcher: Matcher,
) -> None:
    assert matcher.match("je veux demander l'asile où aller").topic == "asylum.apply"
    assert matcher.match("JE VEUX DEMANDEEEER L ASILE OU ALLER").topic == "asylum.apply"
    # Arabic yeh and kaf instead of the Persian letters, and a zero-width non-joiner.
    persian = "کارت نارنجی را چطور بگیرم"
    arabic_letters = persian.replace("ی", "ي").replace("ک", "ك").replace(" را", "\u200c را")
    assert matcher.match(arabic_letters).topic == matcher.match(persian).topic


def test_a_trained_matcher_is_cached_and_reloaded_with_the_same_answers(
    write_knowledge: KnowledgeWriter, tmp_path: Path
) -> None:
    directory = write_knowledge(topic_data("asylum.apply"), topic_data("detention"))
    knowledge = load_knowledge(directory)
    cache = tmp_path / "cache"

    trained = load_or_train(knowledge, cache)
    cached = list(cache.glob("matcher-*.npz"))
    reloaded = load_or_train(knowledge, cache)

    assert [p.name for p in cached] == [f"matcher-{knowledge_fingerprint(directory)}.npz"]
    for text in ("detention question 3 in nl", "asylum.apply question 5 in fa"):
        assert reloaded.match(text) == trained.match(text)


def test_changing_the_knowledge_base_changes_the_cache_key(
    write_knowledge: KnowledgeWriter,
) -> None:
    directory = write_knowledge(topic_data("asylum.apply"))
    before = knowledge_fingerprint(directory)
    write_knowledge(topic_data("asylum.apply", owner="someone else"))

    assert knowledge_fingerprint(directory) != before


def test_retraining_keeps_only_a_few_cached_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from bot.nlu.matcher import _prune

    for age, name in enumerate(["a", "b", "c", "d", "e", "f"]):
        stale = tmp_path / f"matcher-{name}.npz"
        stale.write_bytes(b"x")
        os.utime(stale, (1_000_000 + age, 1_000_000 + age))
    keep = tmp_path / "matcher-new.npz"
    keep.write_bytes(b"x")
    _prune(tmp_path, keep=keep)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["matcher-d.npz", "matcher-e.npz", "matcher-f.npz", "matcher-new.npz"]
