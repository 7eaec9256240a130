"""The built-in matcher: message -> the topic that answers it, or None when none does.

In order:

1. Emergencies first: the curated rules of ``bot.nlu.urgent``; ``urgent`` wins over
   every other topic.
2. A linear classifier over word and character n-grams (``features``, ``classifier``),
   trained on the knowledge base's examples and titles in all six languages, plus one
   extra class of everyday chit-chat (``out_of_scope.yaml``) so that "selling my
   bike" has somewhere to go that is not a topic.
3. Abstention: the best topic must have enough evidence (``min_score``) and, unless
   the evidence is strong, the message must be mostly made of words the knowledge base
   uses (``min_coverage``): a question about tomato plants shares only its small words
   with a helpline. A margin over the runner-up (``min_margin``) can be required too;
   it is 0 (close runners-up are offered as ``candidates`` instead).

The trained model is cached under ``var/cache/``, keyed by the knowledge base, the
chit-chat list and this code (``load_or_train``). How the thresholds were chosen, with
the figures: bench/README.md, "Matcher notes".
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from bot.nlu import Match, langid_model
from bot.nlu.classifier import LinearClassifier
from bot.nlu.features import Vectorizer, normalized_terms, terms
from bot.nlu.knowledge import (
    LANGUAGES,
    KnowledgeBase,
    cached_knowledge,
    get_knowledge,
    read_yaml,
)
from bot.nlu.language import LanguageIdentifier
from bot.nlu.text import normalize, normalize_letters
from bot.nlu.urgent import (
    find_at_risk_normalized,
    find_urgent_normalized,
    urgent_kind,
)

if TYPE_CHECKING:
    from bot.config import Settings

URGENT = "urgent"
OUT_OF_SCOPE = "(out of scope)"
OUT_OF_SCOPE_FILE = Path(__file__).with_name("out_of_scope.yaml")
STAFF_ONLY = "(staff only)"
STAFF_ONLY_FILE = Path(__file__).with_name("staff_only.yaml")
# Bump when the cache layout changes. Changes to the code of these modules invalidate
# cached models by themselves.
MODEL_VERSION = "1"
MODEL_MODULES = ("text", "features", "classifier", "language", "knowledge", "matcher")
PREFIX = 5


# Only staff can answer, by its clearest wordings in every script: whether an embassy
# already gave someone the visa, a request to look "in your system". The classifier
# learns the rest (``STAFF_ONLY_FILE``).
_STAFF_ONLY = (
    r"(visa|visum|vizu|vizy|визу|візу|ویزه|ویزا|wiza|viza|weeza)\w* .{0,25}"
    r"(already|al |deja|вже|уже|vzhe|uzhe|dada|dadan|داده|ورکړ|warkr|granted|goedgekeurd|accorde)"
    r"|(dalo|dala|daly|dali|дало|дала|дали|given|gave|give|accorde|donne|gegeven|داده|dada)\w* "
    r".{0,20}(visa|visum|vizu|визу|візу|ویزه|wiza|viza)"
    r"|\b(in|dans|у|в) (your|uw|je|jullie|votre|vos|вашій|вашей|вашу) (system|systeem|systeme"
    r"|систем)|(په|پہ) خپل سیستم|در سیستم (خود|تان|شما)|dar system (khod|tan|shoma)"
    r"|pa khpal system"
)
_COMPILED_STAFF_ONLY = re.compile(normalize_letters(_STAFF_ONLY))


def find_staff_only_normalized(normalized: str) -> bool:
    """A question only staff can answer, by its clearest wordings."""
    return bool(_COMPILED_STAFF_ONLY.search(normalized))


@dataclass(frozen=True)
class Thresholds:
    min_score: float = 0.5
    min_margin: float = 0.0
    min_coverage: float = 0.75
    # Evidence this strong answers even a message full of unknown words (names, typos).
    confident_score: float = 1.2
    # The classifier alone (no urgent rule matched) calls an emergency from this
    # confidence on; below it the message is answered by its next topic, marked at risk.
    urgent_confidence: float = 0.9
    # "Only staff can answer" must win by this much: its class is learned from many
    # varied messages that share the helpline's words, and would otherwise take
    # questions the knowledge base answers (see bench/README.md, "Matcher notes").
    staff_only_penalty: float = 0.6


def _confidence(score: float, limits: Thresholds) -> float:
    """A classifier score as 0..1 (0.5 at ``min_score``)."""
    return 1.0 / (1.0 + math.exp(-4.0 * (score - limits.min_score)))


class DomainVocabulary:
    """The words of the knowledge base (examples, titles and answers), and their stems."""

    def __init__(self, words: set[str]) -> None:
        self.words = frozenset(words)
        self.prefixes = frozenset(word[:PREFIX] for word in words if len(word) >= PREFIX)

    @classmethod
    def from_knowledge(cls, knowledge: KnowledgeBase) -> DomainVocabulary:
        words: set[str] = set()
        for topic in knowledge.topics.values():
            for answer in topic.answers.values():
                for text in (*answer.examples, answer.title, answer.answer):
                    words.update(normalize(text).split())
        return cls(words)

    def coverage(self, normalized: str) -> float:
        """Share of the words of a normalised text the knowledge base uses (a stem will
        do)."""
        words = normalized.split()
        if not words:
            return 0.0
        known = sum(w in self.words or w[:PREFIX] in self.prefixes for w in words)
        return known / len(words)


def training_samples(knowledge: KnowledgeBase) -> list[tuple[str, str]]:
    """``(text, label)``: every example and title, and the out-of-scope messages."""
    samples = [
        (text, topic.id)
        for topic in knowledge.topics.values()
        for answer in topic.answers.values()
        for text in (*answer.examples, answer.title)
    ]
    for file, label in ((OUT_OF_SCOPE_FILE, OUT_OF_SCOPE), (STAFF_ONLY_FILE, STAFF_ONLY)):
        extra = read_yaml(file.read_text(encoding="utf-8")) if file.is_file() else {}
        samples += [(text, label) for lang in LANGUAGES for text in (extra.get(lang) or [])]
    return samples


class Matcher:
    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        vectorizer: Vectorizer,
        classifier: LinearClassifier,
        labels: tuple[str, ...],
        domain: DomainVocabulary,
        languages: LanguageIdentifier,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.vectorizer = vectorizer
        self.classifier = classifier
        self.labels = labels
        self.domain = domain
        self.languages = languages
        self.thresholds = thresholds or Thresholds()
        self._staff_only = [i for i, label in enumerate(labels) if label == STAFF_ONLY]
        self._faq = np.array(
            [
                label in knowledge.topics and knowledge.topics[label].kind == "faq"
                for label in labels
            ]
        )

    @classmethod
    def train(cls, knowledge: KnowledgeBase) -> Matcher:
        samples = training_samples(knowledge)
        labels = tuple(sorted({label for _, label in samples}))
        index = {label: i for i, label in enumerate(labels)}
        found = [terms(text) for text, _ in samples]
        vectorizer = Vectorizer.fit(found)
        vectors = [vectorizer.vector(f) for f in found]
        classifier = LinearClassifier.train(
            vectors,
            [index[label] for _, label in samples],
            len(labels),
            width=len(vectorizer),
        )
        return cls(
            knowledge,
            vectorizer=vectorizer,
            classifier=classifier,
            labels=labels,
            domain=DomainVocabulary.from_knowledge(knowledge),
            languages=LanguageIdentifier.from_knowledge(knowledge),
        )

    def match(self, text: str, lang: str | None = None) -> Match:
        normalized = normalize(text)
        guess = self.languages.detect(text, normalized)
        reply = lang if lang in LANGUAGES else guess.lang
        hit = find_urgent_normalized(normalized)  # an emergency rule wins over any topic

        def result(
            topic: str | None,
            score: float,
            candidates: tuple[str, ...],
            *,
            staff_only: bool = False,
            at_risk: str | None = None,
        ) -> Match:
            urgent = topic == URGENT
            return Match(
                topic=topic,
                score=round(min(1.0, max(0.0, score)), 4),
                lang=reply,
                detected_lang=guess.lang,
                lang_confidence=guess.confidence,
                urgent=urgent,
                candidates=candidates,
                urgent_kind=urgent_kind(normalized, hit) if urgent else None,
                staff_only=staff_only,
                at_risk=None if urgent else at_risk,
            )

        limits = self.thresholds
        scores = self.classifier.scores(self.vectorizer.vector(normalized_terms(normalized)))
        scores[self._staff_only] -= limits.staff_only_penalty
        order = np.argsort(-scores)
        candidates = tuple(self.labels[i] for i in order if self._faq[i])[:3]
        if hit is not None:
            return result(URGENT, 1.0, candidates)

        at_risk = "sleeping_outside" if find_at_risk_normalized(normalized) else None
        if self.labels[order[0]] == URGENT:
            if _confidence(float(scores[order[0]]), limits) >= limits.urgent_confidence:
                return result(URGENT, 1.0, candidates)
            # Reads a little like an emergency: answered by what else it is about, and
            # staff see it first.
            at_risk, order = "possible_emergency", order[1:]
        best, runner_up = (float(scores[i]) for i in order[:2])
        label = self.labels[order[0]]
        confidence = _confidence(best, limits)
        if label == STAFF_ONLY or find_staff_only_normalized(normalized):
            return result(None, confidence, candidates, staff_only=True, at_risk=at_risk)
        if (
            label == OUT_OF_SCOPE
            or best < limits.min_score
            or best - runner_up < limits.min_margin
            or (
                best < limits.confident_score
                and self.domain.coverage(normalized) < limits.min_coverage
            )
        ):
            score = confidence if label != OUT_OF_SCOPE else 0.0
            return result(None, score, candidates, at_risk=at_risk)
        return result(label, confidence, candidates, at_risk=at_risk)

    # --- the cache ---------------------------------------------------------------------

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a concurrent reader sees the old file or the new one.
        temporary = path.with_suffix(f".{os.getpid()}.tmp.npz")
        vocabulary = self.vectorizer.vocabulary
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "terms": np.array(sorted(vocabulary, key=vocabulary.__getitem__)),
            "idf": self.vectorizer.idf,
            "weights": self.classifier.weights,
            "bias": self.classifier.bias,
            "labels": np.array(self.labels),
            "domain": np.array(sorted(self.domain.words)),
            **self.languages.arrays(),
        }
        # Nothing here is a Python object: the cache is written, as read, without pickle.
        np.savez(temporary, allow_pickle=False, **arrays)
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path, knowledge: KnowledgeBase) -> Matcher:
        with np.load(path, allow_pickle=False) as data:
            vocabulary = {term: i for i, term in enumerate(data["terms"].tolist())}
            return cls(
                knowledge,
                vectorizer=Vectorizer(vocabulary, data["idf"]),
                classifier=LinearClassifier(data["weights"], data["bias"]),
                labels=tuple(data["labels"].tolist()),
                domain=DomainVocabulary(set(data["domain"].tolist())),
                languages=LanguageIdentifier.from_arrays(data),
            )


def knowledge_fingerprint(knowledge_dir: Path) -> str:
    """Changes whenever a knowledge file, the chit-chat list or the matcher's code does."""
    files = sorted(knowledge_dir.glob("*.yaml"))
    return _fingerprint((file.name, file.read_bytes()) for file in files if file.is_file())


def texts_fingerprint(texts: Mapping[str, str]) -> str:
    """``knowledge_fingerprint`` of a knowledge base given as texts (file name -> YAML),
    as the database publishes it: the same texts give the same model file, so another
    instance with the same home loads what one trained."""
    return _fingerprint((name, texts[name].encode()) for name in sorted(texts))


def _fingerprint(files: Iterable[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256(MODEL_VERSION.encode())
    code = [Path(__file__).with_name(f"{name}.py") for name in MODEL_MODULES]
    extra = (OUT_OF_SCOPE_FILE, STAFF_ONLY_FILE)
    for name, content in files:
        digest.update(name.encode() + b"\0" + content + b"\0")
    for file in (*extra, *code):
        if file.is_file():
            digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def load_or_train(
    knowledge: KnowledgeBase, cache_dir: Path | None, *, fingerprint: str | None = None
) -> Matcher:
    """The matcher for ``knowledge``, from ``cache_dir`` when it was trained before.

    ``fingerprint`` names the model file (``texts_fingerprint`` of a published knowledge
    base); without it, ``knowledge.path``'s ``knowledge_fingerprint`` does."""
    if fingerprint is None and knowledge.path is not None:
        fingerprint = knowledge_fingerprint(knowledge.path)
    if cache_dir is None or fingerprint is None:
        return Matcher.train(knowledge)
    path = cache_dir / f"matcher-{fingerprint}.npz"
    try:
        return Matcher.load(path, knowledge)
    except (OSError, ValueError, KeyError):
        pass
    matcher = Matcher.train(knowledge)
    # A read-only deployment trains at every start; it still works.
    with contextlib.suppress(OSError):
        matcher.save(path)
        _prune(cache_dir, keep=path)
    return matcher


def _prune(cache_dir: Path, keep: Path, spare: int = 3) -> None:
    """Each edit of knowledge/ trains a new model, a large file: keep the newest few."""

    def modified(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except FileNotFoundError:  # another process pruned it meanwhile
            return 0.0

    # Another process's file being written (``*.tmp.npz``) is not pruned under it.
    older = sorted(
        (p for p in cache_dir.glob("matcher-*.npz") if p != keep and ".tmp." not in p.name),
        key=modified,
        reverse=True,
    )
    for stale in older[spare:]:
        stale.unlink(missing_ok=True)


@lru_cache(maxsize=4)
def folder_matcher(knowledge_dir: Path, cache_dir: Path) -> Matcher:
    """The matcher of the knowledge/ folder ``knowledge_dir``, once per process."""
    return load_or_train(cached_knowledge(knowledge_dir), cache_dir)


def builtin_matcher(settings: Settings) -> Matcher:
    """The matcher of ``settings.knowledge_dir``, trained once and cached under var/
    (``bot.nlu.get_matcher`` chooses between it and the Rasa backend). What the bot
    uses is ``bot.kb.live.matcher``: the published knowledge base's, else this."""
    knowledge = get_knowledge(settings)
    assert knowledge.path is not None
    cache_dir = settings.home / "var" / "cache"
    langid_model.use_cache_dir(cache_dir)
    return folder_matcher(knowledge.path, cache_dir)
