"""Rasa Open Source as an optional NLU backend (``HELPLINE_NLU=rasa``).

Rasa 3.6 needs Python < 3.11, so it cannot live in our environment: it runs as its
own server (``rasa run --enable-api``), the way Rasa is normally deployed, and
helpline reaches it at ``HELPLINE_RASA_URL``. This module holds both halves:

- ``project_files`` / ``export_project``: a complete Rasa 3.x NLU project made from
  the knowledge base, one intent per topic with every language's examples, and a
  pipeline that downloads no language model.
- ``RasaMatcher``: a ``bot.nlu.Matcher`` like the built-in one. Our own urgent
  detection runs first and never waits for Rasa; then Rasa's ``POST /model/parse``;
  then our abstention rules. When Rasa is down, slow or answers garbage, the built-in
  matcher answers, and the failure is logged (never the message) and counted in
  ``helpline_nlu_fallbacks_total``.

Both sides see text through ``bot.nlu.text.normalize``: the examples are exported
normalised and messages are sent normalised, so Rasa learns and predicts on the
same spelling of Arabic-script letters, accents and repeated letters that the
built-in matcher uses.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import yaml
from prometheus_client import Counter

from bot.config import LANGUAGES
from bot.nlu import Match, Matcher
from bot.nlu.text import normalize
from bot.nlu.urgent import find_urgent_normalized, urgent_kind

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.nlu.knowledge import KnowledgeBase
    from bot.nlu.matcher import Matcher as BuiltinMatcher

logger = logging.getLogger(__name__)

TRAINING_DATA_VERSION = "3.1"  # the NLU/domain format of Rasa 3.x
FALLBACK_INTENT = "nlu_fallback"  # what Rasa's FallbackClassifier predicts
URGENT_TOPIC = "urgent"
CONFIDENCE_THRESHOLD = 0.6  # below this, Rasa's intent is not trusted: abstain
AMBIGUITY_THRESHOLD = 0.1  # top two intents closer than this: Rasa says nlu_fallback
TIMEOUT_SECONDS = 1.5  # a person is waiting; the built-in matcher answers in ms
RETRY_AFTER_SECONDS = 15.0  # after a failure, don't make every message wait for Rasa
MAX_CANDIDATES = 3

_NOT_IN_INTENT = re.compile(r"[^A-Za-z0-9_]")

# Served on /metrics by bot.ops.observability, which imports it from here.
NLU_FALLBACKS = Counter("helpline_nlu_fallbacks_total", "External NLU failures", ["backend"])


class RasaExportError(Exception):
    """The knowledge base cannot be exported as a Rasa project."""


# --- export --------------------------------------------------------------------------


def intent_name(topic_id: str) -> str:
    """The Rasa intent of a topic: ``asylum.apply`` -> ``asylum_apply``.

    Rasa reads ``/`` as a retrieval intent and ``+`` as a multi-intent split, so only
    letters, digits and ``_`` are kept; the exported data records the topic of each
    intent, and ``intent_topics`` refuses ids that would collide.
    """
    return _NOT_IN_INTENT.sub("_", topic_id)


def intent_topics(knowledge: KnowledgeBase) -> dict[str, str]:
    """Rasa intent -> topic id, for every topic of the knowledge base."""
    topics: dict[str, str] = {}
    for topic_id in sorted(knowledge.topics):
        intent = intent_name(topic_id)
        if intent == FALLBACK_INTENT or intent in topics:
            other = topics.get(intent, "Rasa's fallback intent")
            raise RasaExportError(f"topics {topic_id!r} and {other!r} both become {intent!r}")
        topics[intent] = topic_id
    return topics


def training_examples(knowledge: KnowledgeBase, topic_id: str) -> list[str]:
    """The topic's examples and titles in every language, normalised, each once.

    ``normalize`` also makes them safe in Rasa's format: no line breaks (one example
    per line) and no brackets (``[text](entity)`` would be read as an entity).
    """
    seen: dict[str, None] = {}
    topic = knowledge.topics[topic_id]
    for lang in (*LANGUAGES, *sorted(set(topic.answers) - set(LANGUAGES))):
        answer = topic.answers.get(lang)
        if answer is None:
            continue
        for text in (*answer.examples, answer.title):
            example = normalize(text)
            if example:
                seen.setdefault(example, None)
    return list(seen)


class _Block(str):
    """A string YAML writes as a literal block (``|``), as Rasa's examples are."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Block, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
)


def _dump(data: dict[str, object]) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)


CONFIG_YML = """\
# Rasa 3.x NLU pipeline for helpline, written by `helpline rasa export`.
# Six languages in three scripts, with typos and transliterations: whole words are
# brittle there, so character n-grams inside word boundaries carry most of the
# signal. Nothing in this pipeline downloads a language model.
recipe: default.v1
assistant_id: helpline
language: xx  # several languages; no component here depends on it
pipeline:
  - name: WhitespaceTokenizer  # messages arrive normalised: words split by spaces
  - name: CountVectorsFeaturizer  # words
  - name: CountVectorsFeaturizer  # character n-grams within words
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
    entity_recognition: false
    constrain_similarities: true
    random_seed: 1
  - name: FallbackClassifier  # helpline applies the same threshold again
    threshold: {threshold}
    ambiguity_threshold: {ambiguity}
"""

README_MD = """\
# helpline's knowledge base as a Rasa NLU project

Written by `helpline rasa export`; do not edit: change `knowledge/` and export again.
One intent per topic (`metadata.topic` in `data/nlu.yml` names it), examples in
nl fr en uk ps fa, normalised the way helpline normalises the messages it sends.

    rasa train nlu --config config.yml --nlu data --domain domain.yml --out models
    rasa run --enable-api --model models --port 5005

then start helpline with `HELPLINE_NLU=rasa HELPLINE_RASA_URL=http://127.0.0.1:5005`.
"""


def project_files(
    knowledge: KnowledgeBase, *, threshold: float = CONFIDENCE_THRESHOLD
) -> dict[str, str]:
    """The project's files, by path relative to its directory."""
    intents = intent_topics(knowledge)
    nlu = []
    for intent, topic_id in intents.items():
        examples = training_examples(knowledge, topic_id)
        if not examples:
            raise RasaExportError(f"topic {topic_id!r} has no examples")
        nlu.append(
            {
                "intent": intent,
                "metadata": {"topic": topic_id},
                "examples": _Block("".join(f"- {example}\n" for example in examples)),
            }
        )
    header = "# Written by `helpline rasa export` from knowledge/; do not edit.\n"
    return {
        "config.yml": CONFIG_YML.format(threshold=threshold, ambiguity=AMBIGUITY_THRESHOLD),
        "domain.yml": header + _dump({"version": TRAINING_DATA_VERSION, "intents": list(intents)}),
        "data/nlu.yml": header + _dump({"version": TRAINING_DATA_VERSION, "nlu": nlu}),
        "README.md": README_MD,
    }


def export_project(
    knowledge: KnowledgeBase, directory: Path, *, threshold: float = CONFIDENCE_THRESHOLD
) -> list[Path]:
    """Write the Rasa project into ``directory`` (its other files are left alone)."""
    written = []
    for name, content in project_files(knowledge, threshold=threshold).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


# --- the client ----------------------------------------------------------------------


class RasaError(Exception):
    """Rasa did not give a usable answer; ``reason`` is safe to log (no message text)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Intent:
    name: str
    confidence: float


@dataclass(frozen=True)
class Parse:
    """The part of a ``/model/parse`` answer helpline uses."""

    intent: Intent | None  # None: Rasa predicted no intent at all
    ranking: tuple[Intent, ...]


def _intent(raw: object) -> Intent | None:
    if not isinstance(raw, Mapping):
        raise RasaError("invalid response: intent is not an object")
    name, confidence = raw.get("name"), raw.get("confidence")
    if name is None:
        return None
    if not isinstance(name, str) or isinstance(confidence, bool):
        raise RasaError("invalid response: intent name or confidence")
    if not isinstance(confidence, int | float) or not 0.0 <= confidence <= 1.0:
        raise RasaError("invalid response: confidence not in 0..1")
    if math.isnan(confidence):
        raise RasaError("invalid response: confidence not a number")
    return Intent(name, float(confidence))


def parse_response(data: object) -> Parse:
    """Check a ``/model/parse`` answer; raises ``RasaError`` on anything unexpected."""
    if not isinstance(data, Mapping) or "intent" not in data:
        raise RasaError("invalid response: no intent")
    ranking_raw = data.get("intent_ranking")
    if ranking_raw is None:
        ranking_raw = []
    if not isinstance(ranking_raw, list):
        raise RasaError("invalid response: intent_ranking is not a list")
    ranking = tuple(intent for intent in map(_intent, ranking_raw) if intent is not None)
    return Parse(_intent(data["intent"]), ranking)


class RasaClient:
    """``POST /model/parse`` on a Rasa server, with a short timeout.

    ``base_url`` may carry a path prefix (behind a proxy) and Rasa's ``?token=``.
    """

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        url = httpx.URL(base_url)
        self.url = url.copy_with(path=url.path.rstrip("/") + "/model/parse")
        self._http = httpx.Client(timeout=timeout)

    def parse(self, text: str) -> Parse:
        try:
            response = self._http.post(self.url, json={"text": text})
        except httpx.TimeoutException as exc:
            raise RasaError("timeout") from exc
        except httpx.HTTPError as exc:
            raise RasaError(f"unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RasaError(f"status {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise RasaError("invalid response: not JSON") from exc
        return parse_response(data)

    def close(self) -> None:
        self._http.close()


# --- the matcher ---------------------------------------------------------------------


class RasaMatcher:
    """Rasa picks the topic; everything around that choice stays ours.

    - ``builtin`` (our matcher) looks first: its urgent rules and its classifier's
      urgent class decide an emergency without asking Rasa, so an emergency never
      depends on Rasa being up or right. Its language identification gives the
      language, as for the built-in backend (the chosen one if given).
    - Our abstention rules apply to Rasa's answer: its fallback intent, an intent
      that is no topic of ours, or a confidence under ``threshold`` abstains. Rasa's
      ranking gives the candidate topics offered on abstention.
    - When Rasa fails, the built-in answer stands, the failure is logged and counted,
      and Rasa is left alone for ``retry_after`` seconds, so that a hanging server
      does not make every message wait for the timeout.
    """

    def __init__(
        self,
        knowledge: KnowledgeBase,
        builtin: Matcher,
        client: RasaClient,
        *,
        threshold: float = CONFIDENCE_THRESHOLD,
        retry_after: float = RETRY_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.knowledge = knowledge
        self.builtin = builtin
        self.client = client
        self.threshold = threshold
        self.retry_after = retry_after
        self.clock = clock
        self.topics = intent_topics(knowledge)
        self._resting_until = -math.inf

    def match(self, text: str, lang: str | None = None) -> Match:
        ours = self.builtin.match(text, lang)
        normalized = normalize(text)
        if ours.urgent or not normalized:
            return ours
        if self.clock() < self._resting_until:
            NLU_FALLBACKS.labels("rasa").inc()
            return ours
        try:
            parsed = self.client.parse(normalized)
        except RasaError as exc:
            self._resting_until = self.clock() + self.retry_after
            NLU_FALLBACKS.labels("rasa").inc()
            logger.warning(
                "Rasa failed; the built-in matcher answers for the next %.0f s",
                self.retry_after,
                extra={"event": "nlu_fallback", "error": exc.reason},
            )
            return ours
        topic, score = self._topic(parsed)
        return replace(
            ours,
            topic=topic,
            score=score,
            urgent=topic == URGENT_TOPIC,
            candidates=self._candidates(parsed),
            urgent_kind=(
                urgent_kind(normalized, find_urgent_normalized(normalized))
                if topic == URGENT_TOPIC
                else None
            ),
        )

    def _topic(self, parsed: Parse) -> tuple[str | None, float]:
        intent = parsed.intent
        if intent is not None and intent.name == FALLBACK_INTENT:
            # Its confidence is the fallback threshold; how close the best guess came
            # is the score worth reporting.
            intent = next((i for i in parsed.ranking if i.name != FALLBACK_INTENT), None)
            return None, round(intent.confidence, 4) if intent else 0.0
        if intent is None:
            return None, 0.0
        score = round(intent.confidence, 4)
        topic = self.topics.get(intent.name)
        if topic is None or intent.confidence < self.threshold:
            return None, score
        return topic, score

    def _candidates(self, parsed: Parse) -> tuple[str, ...]:
        found: list[str] = []
        for intent in parsed.ranking:
            topic = self.topics.get(intent.name)
            if topic and self.knowledge.topics[topic].kind == "faq" and topic not in found:
                found.append(topic)
        return tuple(found[:MAX_CANDIDATES])


@lru_cache(maxsize=4)
def _cached_rasa_matcher(rasa_url: str, builtin: BuiltinMatcher) -> RasaMatcher:
    return RasaMatcher(builtin.knowledge, builtin, RasaClient(rasa_url))


def rasa_matcher(settings: Settings, builtin: BuiltinMatcher) -> RasaMatcher:
    """The Rasa backend of ``settings`` around the built-in matcher, made once."""
    return _cached_rasa_matcher(settings.rasa_url, builtin)
