"""Scoring a matcher on a labelled set (the format of ``shared/eval/dev.jsonl``).

One line per message: ``{"text": ..., "topic": "asylum.apply" or null, "lang": "nl"}``.
Per language and overall: top-1 accuracy (abstaining on a null item is correct; an
answer from a child topic counts for its parent),
urgent recall, the share of null items answered with a topic, language accuracy, and
the latency of ``match`` (p50/p99).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.nlu.knowledge import LANGUAGES

OVERALL = "all"


class MatchLike(Protocol):
    @property
    def topic(self) -> str | None: ...
    @property
    def detected_lang(self) -> str: ...


@dataclass(frozen=True)
class Item:
    text: str
    topic: str | None
    lang: str


@dataclass(frozen=True)
class Outcome:
    item: Item
    topic: str | None
    detected_lang: str
    seconds: float


@dataclass(frozen=True)
class Scores:
    count: int
    top1: float
    urgent_recall: float | None  # None: no urgent item
    null_answered: float | None  # None: no null item
    lang_accuracy: float
    p50_ms: float
    p99_ms: float
    urgent_false_alarms: float | None = None  # share of the other items taken as urgent


class EvalFormatError(ValueError):
    pass


def read_items(path: Path) -> list[Item]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            items.append(Item(str(raw["text"]), raw.get("topic"), str(raw["lang"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EvalFormatError(f"{path}:{number}: not an evaluation item ({exc})") from exc
    return items


def run(match: Callable[[str], MatchLike], items: Iterable[Item]) -> list[Outcome]:
    """Match every item (with the language detected, as for a first message)."""
    outcomes = []
    for item in items:
        start = time.perf_counter()
        found = match(item.text)
        seconds = time.perf_counter() - start
        outcomes.append(Outcome(item, found.topic, found.detected_lang, seconds))
    return outcomes


def answers_for(found: str | None, expected: str | None) -> bool:
    """``found`` answers an item labelled ``expected``: the same topic, or a child of it
    (``reception.no_place.waiting_list`` refines ``reception.no_place``)."""
    if found is None or expected is None:
        return found == expected
    return found == expected or found.startswith(expected + ".")


def _share(hits: Sequence[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def score(outcomes: Sequence[Outcome]) -> Scores:
    latencies = np.array([o.seconds for o in outcomes]) * 1000 if outcomes else np.zeros(1)
    urgent = [o.topic == "urgent" for o in outcomes if o.item.topic == "urgent"]
    nulls = [o.topic is not None for o in outcomes if o.item.topic is None]
    alarms = [o.topic == "urgent" for o in outcomes if o.item.topic != "urgent"]
    return Scores(
        count=len(outcomes),
        top1=_share([answers_for(o.topic, o.item.topic) for o in outcomes]) or 0.0,
        urgent_recall=_share(urgent),
        null_answered=_share(nulls),
        lang_accuracy=_share([o.detected_lang == o.item.lang for o in outcomes]) or 0.0,
        p50_ms=float(np.percentile(latencies, 50)),
        p99_ms=float(np.percentile(latencies, 99)),
        urgent_false_alarms=_share(alarms),
    )


def score_by_language(outcomes: Sequence[Outcome]) -> dict[str, Scores]:
    """Scores per language present (in the usual order), then ``"all"``."""
    present = [lang for lang in LANGUAGES if any(o.item.lang == lang for o in outcomes)]
    present += sorted({o.item.lang for o in outcomes} - set(present))
    table = {lang: score([o for o in outcomes if o.item.lang == lang]) for lang in present}
    table[OVERALL] = score(outcomes)
    return table


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_table(table: dict[str, Scores]) -> str:
    header = f"{'lang':<5}{'n':>5}{'top1':>8}{'urgent':>8}{'null→topic':>12}{'lang acc':>10}"
    header += f"{'p50 ms':>9}{'p99 ms':>9}{'false alarms':>14}"
    lines = [header]
    for lang, s in table.items():
        lines.append(
            f"{lang:<5}{s.count:>5}{_cell(s.top1):>8}{_cell(s.urgent_recall):>8}"
            f"{_cell(s.null_answered):>12}{_cell(s.lang_accuracy):>10}"
            f"{s.p50_ms:>9.2f}{s.p99_ms:>9.2f}{_cell(s.urgent_false_alarms):>14}"
        )
    return "\n".join(lines)
