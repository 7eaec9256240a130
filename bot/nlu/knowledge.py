"""The curated knowledge base: one YAML file per topic in ``knowledge/``.

``load_knowledge`` reads it strictly enough that the bot never runs on a broken file
(schema errors raise ``KnowledgeError``) and leniently enough that it runs while a
translation is still missing (``KnowledgeBase.answer`` falls back to English).
``validate`` is the editor's check: everything ``load_knowledge`` refuses, plus the
content rules of ``knowledge/README.md`` (all six languages, enough examples, no
example under two topics, every shared topic id present) and overdue reviews.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.config import LANGUAGES
from bot.nlu.organisation import ANSWER_PLACEHOLDERS, ORGANISATION_FILE, placeholders
from bot.nlu.text import normalize

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["LANGUAGES", "Answer", "KnowledgeBase", "KnowledgeError", "Topic", "load_knowledge"]

KINDS = ("faq", "meta", "urgent")
FALLBACK_LANGUAGE = "en"
MIN_EXAMPLES = 8
MAX_TITLE = 40
TOPIC_KEYS = frozenset(
    {
        "id",
        "kind",
        "owner",
        "reviewed_on",
        "review_every",
        "review_note",
        "sources",
        "related",
        "languages",
        "language_differences",
    }
)

ANSWER_KEYS = frozenset({"title", "answer", "examples"})


# libyaml's loader when PyYAML was built with it: far faster, at every start.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str) -> Any:
    """Parse YAML safely (no arbitrary objects)."""
    return yaml.load(text, Loader=_Loader)


class KnowledgeError(Exception):
    """The knowledge base cannot be loaded; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Answer:
    title: str
    answer: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Topic:
    id: str
    kind: str
    answers: dict[str, Answer]
    related: tuple[str, ...]
    sources: tuple[dict[str, object], ...]  # {title, url}
    owner: str
    reviewed_on: dt.date
    review_every: int
    review_note: str = ""
    # Languages whose answer may differ from the others' (numbers, addresses, bullets),
    # and why: ``tests/nlu/test_knowledge_content.py`` compares the rest.
    language_differences: dict[str, str] = field(default_factory=dict)

    def review_due(self) -> dt.date:
        return self.reviewed_on + dt.timedelta(days=self.review_every)


@dataclass
class KnowledgeBase:
    topics: dict[str, Topic] = field(default_factory=dict)
    path: Path | None = None

    def answer(self, topic_id: str, lang: str) -> Answer:
        """The topic's answer in ``lang``, else in English, else in any language."""
        answers = self.topics[topic_id].answers
        for code in (lang, FALLBACK_LANGUAGE, *LANGUAGES):
            if code in answers:
                return answers[code]
        raise KeyError(f"topic {topic_id} has no answer in any language")


# --- parsing -----------------------------------------------------------------------


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) else None


def _parse_answer(raw: object, where: str, errors: list[str]) -> Answer | None:
    if not isinstance(raw, dict):
        errors.append(f"{where}: must be a mapping with title, answer and examples")
        return None
    for key in sorted(set(raw) - ANSWER_KEYS):
        errors.append(f"{where}: unknown key {key!r}")
    title, answer = _text(raw.get("title", "")), _text(raw.get("answer", ""))
    if title is None:
        errors.append(f"{where}.title: must be text")
    if answer is None:
        errors.append(f"{where}.answer: must be text")
    examples = raw.get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        errors.append(f"{where}.examples: must be a list of texts")
        examples = []
    if title is None or answer is None:
        return None
    return Answer(title, answer, tuple(e.strip() for e in examples if e.strip()))


def _parse_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_topic(raw: object, where: str) -> tuple[Topic | None, list[str]]:
    """One topic from its parsed YAML, and the schema errors found in it."""
    errors: list[str] = []
    if not isinstance(raw, dict):
        return None, [f"{where}: must be a mapping (id, kind, languages, ...)"]
    for key in sorted(set(raw) - TOPIC_KEYS):
        errors.append(f"{where}: unknown key {key!r}")
    topic_id = raw.get("id")
    if not isinstance(topic_id, str) or not topic_id.strip():
        errors.append(f"{where}: 'id' is missing")
        topic_id = ""
    kind = raw.get("kind")
    if kind not in KINDS:
        errors.append(f"{where}: 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    owner = raw.get("owner")
    if not isinstance(owner, str) or not owner.strip():
        errors.append(f"{where}: 'owner' is missing")
        owner = ""
    reviewed_on = _parse_date(raw.get("reviewed_on"))
    if reviewed_on is None:
        errors.append(f"{where}: 'reviewed_on' must be a date (YYYY-MM-DD)")
    review_every = raw.get("review_every")
    if isinstance(review_every, bool) or not isinstance(review_every, int) or review_every < 1:
        errors.append(f"{where}: 'review_every' must be a number of days")
        review_every = 0

    sources = raw.get("sources", [])
    if not isinstance(sources, list) or not all(
        isinstance(s, dict) and isinstance(s.get("url"), str) for s in sources
    ):
        errors.append(f"{where}: 'sources' must be a list of {{title, url}}")
        sources = []
    related = raw.get("related") or []
    if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
        errors.append(f"{where}: 'related' must be a list of topic ids")
        related = []

    review_note = raw.get("review_note") or ""
    if not isinstance(review_note, str):
        errors.append(f"{where}: 'review_note' must be text")
        review_note = ""
    differences = raw.get("language_differences") or {}
    if not isinstance(differences, dict) or not set(differences) <= set(LANGUAGES):
        errors.append(f"{where}: 'language_differences' must map language codes to reasons")
        differences = {}

    answers: dict[str, Answer] = {}
    languages = raw.get("languages")
    if not isinstance(languages, dict):
        errors.append(f"{where}: 'languages' must map language codes to answers")
        languages = {}
    for lang, raw_answer in languages.items():
        if lang not in LANGUAGES:
            errors.append(f"{where}: unknown language {lang!r} (use {' '.join(LANGUAGES)})")
            continue
        answer = _parse_answer(raw_answer, f"{where}: languages.{lang}", errors)
        if answer is not None:
            answers[lang] = answer

    if errors:
        return None, errors
    assert reviewed_on is not None and isinstance(kind, str)
    topic = Topic(
        id=topic_id.strip(),
        kind=kind,
        answers=answers,
        related=tuple(related),
        sources=tuple(sources),
        owner=owner.strip(),
        reviewed_on=reviewed_on,
        review_every=review_every,
        review_note=review_note.strip(),
        language_differences={str(k): str(v) for k, v in differences.items()},
    )
    return topic, []


def read_texts(path: Path) -> dict[str, str]:
    """The text of every topic file in ``path`` by file name (``asylum.apply.yaml``);
    raises ``KnowledgeError`` when ``path`` is not a directory or a file is not UTF-8."""
    if not path.is_dir():
        raise KnowledgeError([f"{path}: not a directory"])
    texts: dict[str, str] = {}
    errors: list[str] = []
    for file in sorted(path.glob("*.yaml")):
        if file.name == ORGANISATION_FILE:
            continue
        try:
            texts[file.name] = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            errors.append(f"{file.name}: not valid UTF-8: {exc}")
    if errors:
        raise KnowledgeError(errors)
    return texts


def parse_texts(texts: dict[str, str]) -> tuple[dict[str, Topic], list[str]]:
    """The topics in ``texts`` (file name -> YAML text), and every schema error found."""
    topics: dict[str, Topic] = {}
    errors: list[str] = []
    for name in sorted(texts):
        try:
            raw = read_yaml(texts[name])
        except yaml.YAMLError as exc:
            errors.append(f"{name}: not valid YAML: {exc}")
            continue
        topic, found = parse_topic(raw, name)
        errors.extend(found)
        if topic is None:
            continue
        if topic.id != name.removesuffix(".yaml"):
            errors.append(f"{name}: id {topic.id!r} differs from the file name")
        if topic.id in topics:
            errors.append(f"{name}: topic {topic.id!r} is defined twice")
            continue
        topics[topic.id] = topic
    return topics, errors


def _read(path: Path) -> tuple[dict[str, Topic], list[str]]:
    try:
        texts = read_texts(path)
    except KnowledgeError as exc:
        return {}, exc.errors
    return parse_texts(texts)


def knowledge_from_texts(texts: dict[str, str]) -> KnowledgeBase:
    """The knowledge base in ``texts`` (file name -> YAML text), as ``load_knowledge``
    reads a directory; raises ``KnowledgeError`` on any schema error."""
    topics, errors = parse_texts(texts)
    if errors:
        raise KnowledgeError(errors)
    return KnowledgeBase(topics=topics)


def load_knowledge(path: Path) -> KnowledgeBase:
    """Every topic in ``path``; raises ``KnowledgeError`` on any schema error."""
    topics, errors = _read(path)
    if errors:
        raise KnowledgeError(errors)
    return KnowledgeBase(topics=topics, path=path)


@lru_cache(maxsize=8)
def cached_knowledge(path: Path) -> KnowledgeBase:
    """``load_knowledge`` once per (resolved) directory."""
    return load_knowledge(path)


def get_knowledge(settings: Settings) -> KnowledgeBase:
    """The knowledge base of ``settings.knowledge_dir``, loaded once per directory. What
    the bot says is ``bot.kb.live.knowledge``: the published one, else this."""
    return cached_knowledge(Path(settings.knowledge_dir).resolve())


# --- the editor's checks -------------------------------------------------------------


def is_urgent_kind_answer(topic: Topic) -> bool:
    """``urgent.<kind>``: the urgent answer for one kind of emergency, chosen by the
    urgent rules (``bot.nlu.urgent``), so it needs no examples of its own."""
    return topic.kind == "urgent" and topic.id.startswith("urgent.")


def shared_topics_file(path: Path) -> Path:
    """``topics.yaml`` of the shared contract: ``../shared/kb/`` beside the checkout."""
    return path.resolve().parent.parent / "shared" / "kb" / "topics.yaml"


def read_shared_topics(file: Path) -> dict[str, str]:
    """The shared contract's topic ids and their kinds."""
    raw = read_yaml(file.read_text(encoding="utf-8")) or {}
    return {
        str(entry["id"]): str(entry.get("kind", ""))
        for entry in raw.get("topics", [])
        if isinstance(entry, dict) and "id" in entry
    }


def validate(
    path: Path, *, today: dt.date | None = None, shared_topics: Path | None = None
) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` for the knowledge base in ``path``.

    ``shared_topics`` defaults to ``<path>/../../shared/kb/topics.yaml``; when that
    file is absent, the check that every shared id exists is skipped with a warning.
    """
    try:
        texts = read_texts(path)
    except KnowledgeError as exc:
        return exc.errors, []
    return validate_texts(
        texts, today=today, shared_topics=shared_topics or shared_topics_file(path)
    )


def validate_texts(
    texts: dict[str, str], *, today: dt.date | None = None, shared_topics: Path | None = None
) -> tuple[list[str], list[str]]:
    """``validate`` for a knowledge base given as texts (file name -> YAML), as the
    database keeps it; ``shared_topics``: the shared contract's file, if any."""
    today = today or dt.date.today()
    topics, errors = parse_texts(texts)
    warnings: list[str] = []

    seen_examples: dict[str, str] = {}
    for topic in topics.values():
        for lang in LANGUAGES:
            answer = topic.answers.get(lang)
            if answer is None:
                errors.append(f"{topic.id}: no answer in {lang}")
                continue
            if not answer.title:
                errors.append(f"{topic.id}.{lang}: empty title")
            elif len(answer.title) > MAX_TITLE:
                warnings.append(
                    f"{topic.id}.{lang}: title longer than {MAX_TITLE} characters "
                    "(it is shown on a button)"
                )
            if not answer.answer:
                errors.append(f"{topic.id}.{lang}: empty answer")
            for name in sorted(set(placeholders(answer.answer)) - ANSWER_PLACEHOLDERS):
                errors.append(f"{topic.id}.{lang}: unknown placeholder {{{name}}} in the answer")
            if len(answer.examples) < MIN_EXAMPLES and not is_urgent_kind_answer(topic):
                errors.append(
                    f"{topic.id}.{lang}: {len(answer.examples)} examples, "
                    f"at least {MIN_EXAMPLES} needed"
                )
        for lang, answer in topic.answers.items():
            for example in answer.examples:
                key = normalize(example)
                owner = seen_examples.setdefault(key, topic.id)
                if owner != topic.id:
                    errors.append(f"{topic.id}.{lang}: example {example!r} is also under {owner}")
        for related in topic.related:
            if related not in topics:
                errors.append(f"{topic.id}: related topic {related!r} does not exist")
        if topic.review_due() < today:
            warnings.append(
                f"{topic.id}: review overdue since {topic.review_due().isoformat()} "
                f"(reviewed on {topic.reviewed_on.isoformat()})"
            )

    shared = shared_topics
    if shared is not None and shared.is_file():
        for topic_id, kind in read_shared_topics(shared).items():
            if topic_id not in topics:
                errors.append(f"{topic_id}: missing (required by {shared})")
            elif kind and topics[topic_id].kind != kind:
                errors.append(
                    f"{topic_id}: kind {topics[topic_id].kind!r}, the shared contract says {kind!r}"
                )
    else:
        warnings.append(f"{shared} not found: not checking that every shared topic exists")
    return errors, warnings


def coverage(
    path: Path, *, today: dt.date | None = None
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Per topic and language one state: ok, missing, overdue or few examples.

    Returns the topic ids (the shared contract's first, then the others) and the
    table. A topic the shared contract names but ``path`` lacks is missing everywhere.
    """
    today = today or dt.date.today()
    topics, _ = _read(path)
    shared = shared_topics_file(path)
    ids = list(read_shared_topics(shared)) if shared.is_file() else []
    ids += sorted(set(topics) - set(ids))
    table: dict[str, dict[str, str]] = {}
    for topic_id in ids:
        topic = topics.get(topic_id)
        row: dict[str, str] = {}
        for lang in LANGUAGES:
            answer = topic.answers.get(lang) if topic else None
            if topic is None or answer is None or not answer.answer or not answer.title:
                row[lang] = "missing"
            elif len(answer.examples) < MIN_EXAMPLES and not is_urgent_kind_answer(topic):
                row[lang] = "few examples"
            elif topic.review_due() < today:
                row[lang] = "overdue"
            else:
                row[lang] = "ok"
        table[topic_id] = row
    return ids, table
