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


# A word's consonant skeleton, the same whichever script it is written in: Ukrainian in
# Cyrillic or in Latin letters ("добрий" ~ "dobryi" -> "dbr"), Pashto and Dari in Arabic
# script or in Latin letters ("زما" ~ "zama" -> "zm"). Vowels are left out (Arabic
# script does not write most of them, transliterations disagree about them) and the
# sounds transliterations spell in two letters become one.
_DIGRAPHS: tuple[tuple[str, str], ...] = (
    *(("shch", "s"), ("kh", "h"), ("zh", "z"), ("sh", "s"), ("ch", "c"), ("ts", "c")),
    *(("gh", "g"), ("th", "t"), ("ph", "f"), ("ck", "k"), ("q", "k"), ("x", "ks")),
)
_SKELETON = str.maketrans(
    {
        **dict.fromkeys("aeiouyjw", ""),
        # Ukrainian (and Russian) Cyrillic
        **dict.fromkeys("аеєиіїоуюяйьъыэё", ""),
        "б": "b",
        "в": "v",
        "г": "h",
        "ґ": "g",
        "д": "d",
        "ж": "z",
        "з": "z",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "ф": "f",
        "х": "h",
        "ц": "c",
        "ч": "c",
        "ш": "s",
        "щ": "s",
        # Arabic script as normalised (Pashto and Dari letters)
        **dict.fromkeys("اآأإءئعوی\u0649\u06cc\u06d0\u06cd\u064a", ""),
        "ب": "b",
        "پ": "p",
        "ت": "t",
        "ټ": "t",
        "ث": "s",
        "ج": "j",
        "چ": "c",
        "ح": "h",
        "خ": "h",
        "څ": "c",
        "ځ": "z",
        "د": "d",
        "ډ": "d",
        "ذ": "z",
        "ر": "r",
        "ړ": "r",
        "ز": "z",
        "ژ": "z",
        "ږ": "z",
        "س": "s",
        "ش": "s",
        "ښ": "s",
        "ص": "s",
        "ض": "z",
        "ط": "t",
        "ظ": "z",
        "غ": "g",
        "ف": "f",
        "ق": "k",
        "ک": "k",
        "ګ": "g",
        "گ": "g",
        "ل": "l",
        "م": "m",
        "ن": "n",
        "ڼ": "n",
        "ه": "h",
        "ة": "h",
    }
)


def skeleton(word: str) -> str:
    """The consonants of ``word`` in Latin letters (see ``_SKELETON``)."""
    if word.endswith(("ه", "ة")):
        word = word[:-1]  # a final he is usually the vowel -a/-e
    for digraph, letter in _DIGRAPHS:
        word = word.replace(digraph, letter)
    letters = word.translate(_SKELETON)
    return "".join(a for a, b in itertools.zip_longest(letters, letters[1:]) if a != b)


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
    for word in words:
        bones = skeleton(word)
        if len(bones) >= 2:
            found["s " + bones] += 1
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
