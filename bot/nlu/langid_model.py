"""py3langid, cut down to our languages and kept ready under var/.

py3langid's packaged model covers 97 languages and is LZMA-compressed: slow to unpack,
and every language's table stays in memory. We keep only ``PY3LANGID_LANGUAGES`` and
store the result uncompressed under ``var/cache/``; the large state machine is
memory-mapped, so a start is quick and only the pages a message walks through stay
resident (the figures: bench/README.md, "Matcher notes").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

# The languages the cut-down model keeps: ours, and Russian (counted as Ukrainian).
PY3LANGID_LANGUAGES = ("nl", "fr", "en", "uk", "ru", "ps", "fa")
cache_dir: Path | None = None


def use_cache_dir(directory: Path | None) -> None:
    """Where the cut-down model is kept between starts (None: nowhere)."""
    global cache_dir
    if directory != cache_dir:
        cache_dir = directory
        identifier.cache_clear()


@lru_cache(maxsize=1)
def identifier() -> LanguageIdentifier:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    folder = cache_dir / f"py3langid-{_version()}" if cache_dir else None
    if folder is not None and (folder / "model.npz").is_file():
        try:
            return _load(folder)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    model.set_languages(list(PY3LANGID_LANGUAGES))
    if folder is not None:
        _save(model, folder)
    return model


def py3langid_scores(text: str, langs: Sequence[str]) -> dict[str, float]:
    """py3langid's probabilities for ``langs`` (Russian added to Ukrainian), summing to 1."""
    ranked = dict(identifier().rank(text))
    ranked["uk"] = ranked.get("uk", 0.0) + ranked.pop("ru", 0.0)
    total = sum(ranked.get(lang, 0.0) for lang in langs) or 1.0
    return {lang: ranked.get(lang, 0.0) / total for lang in langs}


def _version() -> str:
    from importlib.metadata import version

    return version("py3langid")


def _load(folder: Path) -> LanguageIdentifier:
    from py3langid.langid import LanguageIdentifier

    # py3langid indexes the state machine one element at a time, which a memory map
    # serves as well as an in-memory array.
    nextmove = np.load(folder / "nextmove.npy", mmap_mode="r").view(np.ndarray)
    with np.load(folder / "model.npz", allow_pickle=False) as data:
        return LanguageIdentifier(
            data["ptc"],
            data["pc"],
            data["classes"].tolist(),
            nextmove,
            data["output"].tolist(),
            norm_probs=True,
            tk_row=data["row"].tolist(),
        )


def _save(model: LanguageIdentifier, folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        nextmove = np.frombuffer(model.tk_nextmove, dtype=f"u{model.tk_nextmove.itemsize}")
        # Written aside and renamed: a concurrent reader sees the old file or the new one.
        suffix = f".{os.getpid()}.tmp"
        np.save(folder / f"nextmove{suffix}.npy", nextmove)
        (folder / f"nextmove{suffix}.npy").replace(folder / "nextmove.npy")
        np.savez(
            folder / f"model{suffix}.npz",
            ptc=np.asarray(model.nb_ptc, dtype=np.float32),
            pc=np.asarray(model.nb_pc, dtype=np.float32),
            classes=np.array(model.nb_classes),
            row=np.asarray(model.tk_row, dtype=np.int64),
            output=np.asarray(model.tk_output, dtype=np.int32),
        )
        # Written last: its presence means the folder is complete.
        (folder / f"model{suffix}.npz").replace(folder / "model.npz")
    except OSError:
        pass
