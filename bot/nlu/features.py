"""Sparse TF-IDF vectors of word and character n-grams, in plain numpy.

Words carry meaning when spelled right; character n-grams within words survive the
typos, missing accents, inflections and transliteration variants people write
("prytulok", "prytulku"; "asiel", "azielaanvraag"). Both blocks are weighted by
inverse document frequency, each scaled to unit length and then mixed (characters
weigh a little more: short messages full of typos are the rule), so a dot product of
two vectors is a cosine similarity.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.nlu.text import normalize

CHAR_SIZES = (2, 3, 4, 5)
CHAR_WEIGHT = 1.4
WORD_WEIGHT = 1.0


def terms(text: str) -> Counter[str]:
    """Word unigrams and bigrams and in-word character n-grams of a raw text."""
    return normalized_terms(normalize(text))


def normalized_terms(normalized: str) -> Counter[str]:
    """``terms`` of a text already passed through ``normalize``."""
    words = normalized.split()
    found: Counter[str] = Counter()
    for word in words:
        found["w " + word] += 1
        padded = f" {word} "
        for size in CHAR_SIZES:
            for i in range(len(padded) - size + 1):
                found["c" + padded[i : i + size]] += 1
    for first, second in itertools.pairwise(words):
        found[f"b {first} {second}"] += 1
    return found


@dataclass(frozen=True)
class SparseVector:
    indices: npt.NDArray[np.int32]  # one per feature present
    values: npt.NDArray[np.float32]  # unit length overall


EMPTY = SparseVector(np.zeros(0, np.int32), np.zeros(0, np.float32))


class Vectorizer:
    """A vocabulary with IDF weights; turns text into unit-length sparse vectors."""

    def __init__(self, vocabulary: dict[str, int], idf: npt.NDArray[np.floating]) -> None:
        self.vocabulary = vocabulary
        self.idf = idf.astype(np.float32)

    @classmethod
    def fit(cls, documents: Iterable[Counter[str]]) -> Vectorizer:
        """Learn from the ``terms`` of the training texts."""
        frequency: Counter[str] = Counter()
        count = 0
        for found in documents:
            count += 1
            frequency.update(found.keys())
        kept = sorted(frequency)
        idf = np.array(
            [math.log((1 + count) / (1 + frequency[term])) + 1.0 for term in kept],
            dtype=np.float32,
        )
        return cls({term: i for i, term in enumerate(kept)}, idf)

    def __len__(self) -> int:
        return len(self.vocabulary)

    def transform(self, text: str) -> SparseVector:
        return self.vector(terms(text))

    def vector(self, found: Counter[str]) -> SparseVector:
        known = [
            (self.vocabulary[t], n, t[0] == "c") for t, n in found.items() if t in self.vocabulary
        ]
        if not known:
            return EMPTY
        indices = np.fromiter((k[0] for k in known), dtype=np.int32, count=len(known))
        values = np.fromiter((1.0 + math.log(k[1]) for k in known), np.float32, len(known))
        values *= self.idf[indices]
        is_char = np.fromiter((k[2] for k in known), dtype=bool, count=len(known))
        for mask, weight in ((is_char, CHAR_WEIGHT), (~is_char, WORD_WEIGHT)):
            norm = float(np.linalg.norm(values[mask]))
            if norm:
                values[mask] *= weight / norm
        total = float(np.linalg.norm(values))
        return SparseVector(indices, values / total if total else values)
