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

The n-gram model is a multinomial naive Bayes in numpy: small, quick to train, and it
learns new wording whenever the knowledge base grows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from bot.config import LANGUAGES
from bot.nlu import langid_model
from bot.nlu.langid_model import py3langid_scores
from bot.nlu.text import normalize

if TYPE_CHECKING:
    from bot.nlu.knowledge import KnowledgeBase

__all__ = ["LanguageGuess", "LanguageIdentifier", "detect_language"]

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

    def __init__(
        self,
        vocabulary: dict[str, int],
        log_probs: npt.NDArray[np.floating],
        labels: Sequence[str],
    ) -> None:
        self.vocabulary = vocabulary
        self.log_probs = log_probs.astype(np.float32)
        self.labels = tuple(labels)

    @classmethod
    def train(cls, samples: Iterable[tuple[str, str]], labels: Sequence[str]) -> NaiveBayes:
        index = {label: i for i, label in enumerate(labels)}
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for text, label in samples:
            for gram in char_ngrams(normalize(text)):
                rows.append(vocabulary.setdefault(gram, len(vocabulary)))
                cols.append(index[label])
        counts = np.zeros((len(vocabulary), len(labels)), dtype=np.float64)
        np.add.at(counts, (np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)), 1)
        smoothed = counts + 0.1
        return cls(vocabulary, np.log(smoothed) - np.log(smoothed.sum(axis=0)), labels)

    def arrays(self, prefix: str) -> dict[str, npt.NDArray[np.generic]]:
        """Everything needed to rebuild it (``from_arrays``), for ``numpy.savez``."""
        return {
            f"{prefix}_grams": np.array(sorted(self.vocabulary, key=self.vocabulary.__getitem__)),
            f"{prefix}_log_probs": self.log_probs,
            f"{prefix}_labels": np.array(self.labels),
        }

    @classmethod
    def from_arrays(cls, data: Mapping[str, npt.NDArray[Any]], prefix: str) -> NaiveBayes | None:
        if f"{prefix}_grams" not in data:
            return None
        grams = data[f"{prefix}_grams"].tolist()
        return cls(
            {gram: i for i, gram in enumerate(grams)},
            data[f"{prefix}_log_probs"],
            data[f"{prefix}_labels"].tolist(),
        )

    def probabilities(self, normalized: str) -> dict[str, float]:
        """Class probabilities of a text already passed through ``normalize``."""
        ids = [self.vocabulary[g] for g in char_ngrams(normalized) if g in self.vocabulary]
        if not ids:
            return {label: 1 / len(self.labels) for label in self.labels}
        scores = self.log_probs[ids].sum(axis=0)
        # Words, not n-grams, are the independent evidence: temper by n-grams per word.
        scores = scores / math.sqrt(len(ids))
        scores = np.exp(scores - scores.max())
        scores /= scores.sum()
        return dict(zip(self.labels, scores.tolist(), strict=True))


def py3langid_guess(text: str) -> LanguageGuess:
    """py3langid's answer alone among the six (no transliterations, no Pashto letters):
    the plain baseline ``bench/matcher.py`` compares with."""
    return _best(py3langid_scores(text, LANGUAGES))


def _best(scores: dict[str, float]) -> LanguageGuess:
    lang = max(scores, key=lambda key: scores[key])
    return LanguageGuess(lang, round(min(1.0, max(0.0, scores[lang])), 4))


class LanguageIdentifier:
    """Six-language identification; ``examples`` are ``(text, lang)`` to learn from."""

    def __init__(self, latin: NaiveBayes | None = None, arabic: NaiveBayes | None = None) -> None:
        self.latin = latin
        self.arabic = arabic

    @classmethod
    def train(cls, examples: Iterable[tuple[str, str]]) -> LanguageIdentifier:
        """Learn transliterations (and Pashto vs Dari) from ``(text, lang)`` examples."""
        latin: list[tuple[str, str]] = []
        arabic: list[tuple[str, str]] = []
        for text, lang in examples:
            script = dominant_script(text)
            if script == "latin":
                latin.append((text, lang))
            elif script == "arabic" and lang in ("ps", "fa"):
                arabic.append((text, lang))
        present = {lang for _, lang in latin}
        latin_model = NaiveBayes.train(latin, LANGUAGES) if present >= set(LANGUAGES) else None
        present = {lang for _, lang in arabic}
        arabic_model = NaiveBayes.train(arabic, ("ps", "fa")) if present == {"ps", "fa"} else None
        return cls(latin_model, arabic_model)

    @classmethod
    def from_knowledge(cls, knowledge: KnowledgeBase) -> LanguageIdentifier:
        return cls.train(knowledge_samples(knowledge))

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Everything needed to rebuild it (``from_arrays``), for ``numpy.savez``."""
        found: dict[str, npt.NDArray[np.generic]] = {}
        for prefix, model in (("latin", self.latin), ("arabic", self.arabic)):
            if model is not None:
                found.update(model.arrays(prefix))
        return found

    @classmethod
    def from_arrays(cls, data: Mapping[str, npt.NDArray[Any]]) -> LanguageIdentifier:
        return cls(NaiveBayes.from_arrays(data, "latin"), NaiveBayes.from_arrays(data, "arabic"))

    def detect(self, text: str, normalized: str | None = None) -> LanguageGuess:
        """The language of ``text`` (``normalized``: its ``normalize``, if known)."""
        script = dominant_script(text)
        if script is None:
            return LanguageGuess("en", 0.0)
        if script == "cyrillic":
            return LanguageGuess("uk", 0.99)
        normalized = normalize(text) if normalized is None else normalized
        if script == "arabic":
            return self._arabic(text, normalized)
        return self._latin(text, normalized)

    def _arabic(self, text: str, normalized: str) -> LanguageGuess:
        if any(char in PASHTO_LETTERS for char in text):
            return LanguageGuess("ps", 0.98)
        scores = py3langid_scores(text, ("ps", "fa"))
        if self.arabic is not None:
            learned = self.arabic.probabilities(normalized)
            scores = {lang: math.sqrt(scores[lang] * learned[lang]) for lang in scores}
            total = sum(scores.values()) or 1.0
            scores = {lang: score / total for lang, score in scores.items()}
        return _best(scores)

    def _latin(self, text: str, normalized: str) -> LanguageGuess:
        native = py3langid_scores(text, NATIVE_LATIN)
        if self.latin is None:
            return _best(native)
        learned = self.latin.probabilities(normalized)
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
    from bot.nlu.knowledge import KnowledgeError, get_knowledge

    settings = get_settings()
    if langid_model.cache_dir is None:
        langid_model.use_cache_dir(settings.home / "var" / "cache")
    try:
        return LanguageIdentifier.from_knowledge(get_knowledge(settings))
    except KnowledgeError:
        return LanguageIdentifier()


def detect_language(text: str) -> LanguageGuess:
    """The language of ``text`` among ``LANGUAGES``, learning transliterations from the
    configured knowledge base (``Matcher`` keeps its own identifier for its own)."""
    return _default_identifier().detect(text)
