"""Which of the six languages a short message is written in, and how sure we are.

Three signals, chosen by script:

- Cyrillic: Ukrainian (Russian-looking Cyrillic counts as Ukrainian: many Ukrainians
  write Russian, and the Infolijn answers them in Ukrainian).
- Arabic script: Pashto or Dari. Letters only Pashto has (ټ ډ ړ ږ ښ ګ ڼ ې ۍ ځ څ) settle
  it; otherwise py3langid (restricted to ps/fa) and a character n-gram model trained on
  the knowledge base's examples vote.
- Latin script: Dutch, French, English, or Ukrainian/Pashto/Dari in transliteration.
  py3langid knows the first three well but has never seen transliterations; the
  n-gram model, trained on the knowledge base's examples (which include them), has.

The n-gram model is a multinomial naive Bayes in numpy: small, trained in well under
a second, and it learns new wording whenever the knowledge base grows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from bot.config import LANGUAGES
from bot.engine.text import normalize

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier as Py3LangId

    from bot.engine.knowledge import KnowledgeBase

__all__ = ["LANGUAGES", "LanguageGuess", "LanguageIdentifier", "detect_language"]

PASHTO_LETTERS = frozenset("ټډړږښګڼېۍځڅ")
NATIVE_LATIN = ("nl", "fr", "en")
TRANSLITERATED = ("uk", "ps", "fa")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-zA-Z\u00c0-\u024f]")


@dataclass(frozen=True)
class LanguageGuess:
    lang: str
    confidence: float  # 0..1


def dominant_script(text: str) -> str | None:
    """``"arabic"``, ``"cyrillic"``, ``"latin"``, or None for text without letters.

    A word in Arabic script or Cyrillic decides, however much Latin is around it:
    "Humanitarian Hub Брюссель" is written by a Ukrainian speaker, not an English one.
    """
    if len(_ARABIC.findall(text)) >= 2:
        return "arabic"
    if len(_CYRILLIC.findall(text)) >= 2:
        return "cyrillic"
    if _LATIN.search(text):
        return "latin"
    if _ARABIC.search(text):
        return "arabic"
    if _CYRILLIC.search(text):
        return "cyrillic"
    return None


def char_ngrams(text: str, sizes: Sequence[int] = (1, 2, 3, 4)) -> list[str]:
    """Character n-grams of each word of a normalised text, with word boundaries."""
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        for size in sizes:
            grams.extend(padded[i : i + size] for i in range(len(padded) - size + 1))
    return grams


class NaiveBayes:
    """Multinomial naive Bayes over character n-grams, uniform class priors."""

    def __init__(self, samples: Iterable[tuple[str, str]], labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        index = {label: i for i, label in enumerate(self.labels)}
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for text, label in samples:
            for gram in char_ngrams(normalize(text)):
                rows.append(vocabulary.setdefault(gram, len(vocabulary)))
                cols.append(index[label])
        counts = np.zeros((len(vocabulary), len(self.labels)), dtype=np.float64)
        np.add.at(counts, (np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)), 1)
        smoothed = counts + 0.1
        self.log_probs = (np.log(smoothed) - np.log(smoothed.sum(axis=0))).astype(np.float32)
        self.vocabulary = vocabulary

    def probabilities(self, text: str) -> dict[str, float]:
        ids = [self.vocabulary[g] for g in char_ngrams(normalize(text)) if g in self.vocabulary]
        if not ids:
            return {label: 1 / len(self.labels) for label in self.labels}
        scores = self.log_probs[ids].sum(axis=0)
        # Words, not n-grams, are the independent evidence: temper by n-grams per word.
        scores = scores / math.sqrt(len(ids))
        scores = np.exp(scores - scores.max())
        scores /= scores.sum()
        return dict(zip(self.labels, scores.tolist(), strict=True))


@lru_cache(maxsize=1)
def _py3langid() -> Py3LangId:
    from py3langid.langid import MODEL_FILE
    from py3langid.langid import LanguageIdentifier as Py3LangId

    identifier = Py3LangId.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(["nl", "fr", "en", "uk", "ru", "ps", "fa"])
    return identifier


def _langid_scores(text: str, langs: Sequence[str]) -> dict[str, float]:
    ranked = dict(_py3langid().rank(text))
    ranked["uk"] = ranked.get("uk", 0.0) + ranked.pop("ru", 0.0)
    total = sum(ranked.get(lang, 0.0) for lang in langs) or 1.0
    return {lang: ranked.get(lang, 0.0) / total for lang in langs}


def _best(scores: dict[str, float]) -> LanguageGuess:
    lang = max(scores, key=lambda key: scores[key])
    return LanguageGuess(lang, round(min(1.0, max(0.0, scores[lang])), 4))


class LanguageIdentifier:
    """Six-language identification; ``examples`` are ``(text, lang)`` to learn from."""

    def __init__(self, examples: Iterable[tuple[str, str]] = ()) -> None:
        latin: list[tuple[str, str]] = []
        arabic: list[tuple[str, str]] = []
        for text, lang in examples:
            script = dominant_script(text)
            if script == "latin":
                latin.append((text, lang))
            elif script == "arabic" and lang in ("ps", "fa"):
                arabic.append((text, lang))
        present = {lang for _, lang in latin}
        self.latin = NaiveBayes(latin, LANGUAGES) if present >= set(LANGUAGES) else None
        present = {lang for _, lang in arabic}
        self.arabic = NaiveBayes(arabic, ("ps", "fa")) if present == {"ps", "fa"} else None

    @classmethod
    def from_knowledge(cls, knowledge: KnowledgeBase) -> LanguageIdentifier:
        return cls(knowledge_samples(knowledge))

    def detect(self, text: str) -> LanguageGuess:
        script = dominant_script(text)
        if script is None:
            return LanguageGuess("en", 0.0)
        if script == "cyrillic":
            return LanguageGuess("uk", 0.99)
        if script == "arabic":
            return self._arabic(text)
        return self._latin(text)

    def _arabic(self, text: str) -> LanguageGuess:
        if any(char in PASHTO_LETTERS for char in text):
            return LanguageGuess("ps", 0.98)
        scores = _langid_scores(text, ("ps", "fa"))
        if self.arabic is not None:
            learned = self.arabic.probabilities(text)
            scores = {lang: math.sqrt(scores[lang] * learned[lang]) for lang in scores}
            total = sum(scores.values()) or 1.0
            scores = {lang: score / total for lang, score in scores.items()}
        return _best(scores)

    def _latin(self, text: str) -> LanguageGuess:
        native = _langid_scores(text, NATIVE_LATIN)
        if self.latin is None:
            return _best(native)
        learned = self.latin.probabilities(text)
        # The n-gram model decides native vs transliterated; among the native three,
        # py3langid's judgement (trained on far more text) is combined with it.
        scores = {lang: learned[lang] for lang in TRANSLITERATED}
        native_mass = sum(learned[lang] for lang in NATIVE_LATIN)
        combined = {lang: math.sqrt(native[lang] * learned[lang]) for lang in NATIVE_LATIN}
        total = sum(combined.values()) or 1.0
        scores.update({lang: native_mass * combined[lang] / total for lang in NATIVE_LATIN})
        return _best(scores)


def knowledge_samples(knowledge: KnowledgeBase) -> list[tuple[str, str]]:
    """Every example and title of the knowledge base, with its language."""
    samples: list[tuple[str, str]] = []
    for topic in knowledge.topics.values():
        for lang, answer in topic.answers.items():
            samples.extend((example, lang) for example in answer.examples)
            samples.append((answer.title, lang))
    return samples


@lru_cache(maxsize=1)
def _default_identifier() -> LanguageIdentifier:
    from bot.config import get_settings
    from bot.engine.knowledge import KnowledgeError, get_knowledge

    try:
        return LanguageIdentifier.from_knowledge(get_knowledge(get_settings()))
    except KnowledgeError:
        return LanguageIdentifier()


def detect_language(text: str) -> LanguageGuess:
    """The language of ``text`` among ``LANGUAGES``, learning transliterations from the
    configured knowledge base (``Matcher`` keeps its own identifier for its own)."""
    return _default_identifier().detect(text)
