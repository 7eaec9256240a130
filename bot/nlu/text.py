"""Text normalisation shared by the knowledge checks, language id and the matcher.

People write on cheap phones: capitals, missing or extra accents, Arabic and Persian
keyboards that produce different code points for the same letter, invisible
direction marks, and "pleeeease". Two spellings a reader would call the same should
normalise to the same string.
"""

from __future__ import annotations

import re
import unicodedata

# Invisible characters: zero-width spaces and joiners, direction marks and embeddings,
# the byte-order mark. ZWNJ is the Persian half-space: "می‌خواهم" and "میخواهم" match.
_INVISIBLE = dict.fromkeys(
    [
        *(0x00AD, 0x061C, 0x0640, 0xFEFF),
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2070),
    ]
)

# Arabic-script letters typed differently on Arabic, Persian and Pashto keyboards.
_ARABIC_VARIANTS = str.maketrans(
    {
        "ي": "ی",  # Arabic yeh -> Farsi yeh
        "ى": "ی",  # alef maksura
        "ۍ": "ی",  # Pashto feminine yeh
        "ئ": "ی",
        "ك": "ک",  # Arabic kaf -> keheh
        "ګ": "گ",  # Pashto gaf with ring, often typed as Persian gaf
        "ة": "ه",
        "ۀ": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "؟": "?",
        "،": ",",
        "؛": ";",
        "٫": ".",
    }
)
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
_REPEATS = re.compile(r"(\w)\1{2,}")
_NON_WORD = re.compile(r"[^\w]+")
# An apostrophe inside a Ukrainian word is part of it (сім'я); elsewhere it separates
# (French l'asile, d'asile).
_CYRILLIC_APOSTROPHE = re.compile("(?<=[\u0400-\u04ff])[’'`´ʼ‘]")
_APOSTROPHES = re.compile("[’'`´ʼ‘]")


def strip_latin_accents(text: str) -> str:
    """Remove accents from Latin letters only: Cyrillic й and ї keep their marks."""
    out: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char) and out and "a" <= out[-1].lower() <= "z":
            continue
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out))


def normalize_letters(text: str) -> str:
    """Only the letter-level part of ``normalize`` (case, accents, Arabic-script
    variants): safe to apply to a regular expression written by hand."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_ARABIC_VARIANTS)
    return strip_latin_accents(text)


def normalize(text: str) -> str:
    """Lower case, no Latin accents, one spelling per Arabic-script letter, no
    invisible characters, runs of three or more equal letters cut to two, and words
    separated by single spaces (punctuation dropped)."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.casefold().translate(_ARABIC_VARIANTS).translate(_DIGITS)
    text = _ARABIC_MARKS.sub("", text)
    text = strip_latin_accents(text)
    text = _CYRILLIC_APOSTROPHE.sub("", text)
    text = _APOSTROPHES.sub(" ", text)
    text = _REPEATS.sub(r"\1\1", text)
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    return " ".join(text.split())
