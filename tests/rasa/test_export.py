"""``helpline rasa export DIR``: a Rasa 3.x NLU project made from the knowledge base."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import app
from bot.config import LANGUAGES, PROJECT_HOME
from bot.nlu.knowledge import Answer, KnowledgeBase, Topic, load_knowledge
from bot.nlu.rasa import (
    CONFIDENCE_THRESHOLD,
    FALLBACK_INTENT,
    RasaExportError,
    intent_name,
    project_files,
)
from bot.nlu.text import normalize

KNOWLEDGE = PROJECT_HOME / "knowledge"

# What Rasa 3.6 does with these files (rasa/shared/nlu/training_data/formats/rasa_yaml.py
# and entities_parser.py): one example per line after "- ", and brackets read as entities.
RASA_ENTITY = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)
# Components that need no model downloaded from the Internet.
SELF_CONTAINED = {
    "WhitespaceTokenizer",
    "RegexFeaturizer",
    "LexicalSyntacticFeaturizer",
    "CountVectorsFeaturizer",
    "DIETClassifier",
    "FallbackClassifier",
}


def rasa_examples(block: str) -> list[str]:
    """Rasa's reading of a multi-line ``examples: |`` block."""
    return [line[1:].strip("\n\r ") for line in block.splitlines() if line.startswith("-")]


def export(directory: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["rasa", "export", str(directory), *args])


def read(directory: Path, name: str) -> Any:
    return yaml.safe_load((directory / name).read_text(encoding="utf-8"))


def topic(topic_id: str, examples: dict[str, list[str]], kind: str = "faq") -> Topic:
    return Topic(
        id=topic_id,
        kind=kind,
        answers={
            lang: Answer(title=f"{topic_id} {lang}", answer="...", examples=tuple(texts))
            for lang, texts in examples.items()
        },
        related=(),
        sources=(),
        owner="test",
        reviewed_on=dt.date(2026, 11, 26),
        review_every=180,
    )


@pytest.fixture(scope="module")
def knowledge() -> KnowledgeBase:
    return load_knowledge(KNOWLEDGE)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rasa")
    result = export(directory, "--knowledge", str(KNOWLEDGE))
    assert result.exit_code == 0, result.output
    return directory


def test_export_writes_a_complete_rasa_nlu_project(exported: Path) -> None:
    for name in ("config.yml", "domain.yml", "data/nlu.yml", "README.md"):
        assert (exported / name).is_file(), name
    domain, nlu = read(exported, "domain.yml"), read(exported, "data/nlu.yml")
    # Rasa reads "version" as a string; an unquoted 3.1 would be a float.
    assert domain["version"] == nlu["version"] == "3.1"
    assert all(set(item) == {"intent", "metadata", "examples"} for item in nlu["nlu"])
    assert [item["intent"] for item in nlu["nlu"]] == domain["intents"]
    assert "examples: |" in (exported / "data/nlu.yml").read_text(encoding="utf-8")


def test_every_topic_is_one_intent_that_maps_back_to_it(
    exported: Path, knowledge: KnowledgeBase
) -> None:
    nlu = read(exported, "data/nlu.yml")["nlu"]
    back = {item["intent"]: item["metadata"]["topic"] for item in nlu}
    assert sorted(back.values()) == sorted(knowledge.topics)
    for intent, topic_id in back.items():
        assert re.fullmatch(r"[A-Za-z0-9_]+", intent), intent
        assert intent == intent_name(topic_id)
        assert intent != FALLBACK_INTENT


def test_every_language_of_every_topic_is_in_its_intent(
    exported: Path, knowledge: KnowledgeBase
) -> None:
    nlu = read(exported, "data/nlu.yml")["nlu"]
    examples = {item["metadata"]["topic"]: set(rasa_examples(item["examples"])) for item in nlu}
    for topic_id, found in knowledge.topics.items():
        assert set(found.answers) == set(LANGUAGES)
        for lang, answer in found.answers.items():
            missing = {normalize(e) for e in answer.examples} - examples[topic_id]
            assert not missing, (topic_id, lang, missing)


def test_rasa_reads_no_entity_annotation_into_the_examples(exported: Path) -> None:
    for item in read(exported, "data/nlu.yml")["nlu"]:
        for example in rasa_examples(item["examples"]):
            assert not RASA_ENTITY.search(example), example


def test_pipeline_needs_no_downloaded_model_and_abstains_like_helpline(exported: Path) -> None:
    config = read(exported, "config.yml")
    assert config["recipe"] == "default.v1"
    assert config["assistant_id"]
    names = [component["name"] for component in config["pipeline"]]
    assert set(names) <= SELF_CONTAINED
    assert {"DIETClassifier", "FallbackClassifier"} <= set(names)
    analyzers = {c.get("analyzer", "word") for c in config["pipeline"] if "Count" in c["name"]}
    assert analyzers == {"word", "char_wb"}
    fallback = next(c for c in config["pipeline"] if c["name"] == "FallbackClassifier")
    assert fallback["threshold"] == CONFIDENCE_THRESHOLD


def test_topic_ids_that_would_share_an_intent_are_refused(tmp_path: Path) -> None:
    knowledge = KnowledgeBase(
        topics={
            "asylum.apply": topic("asylum.apply", {"en": ["apply for asylum"]}),
            "asylum_apply": topic("asylum_apply", {"en": ["asylum application"]}),
        }
    )
    with pytest.raises(RasaExportError, match="asylum_apply"):
        project_files(knowledge)


def test_export_of_a_broken_knowledge_base_fails_with_its_errors(tmp_path: Path) -> None:
    broken = tmp_path / "knowledge"
    broken.mkdir()
    (broken / "asylum.apply.yaml").write_text("id: asylum.apply\nkind: nonsense\n")
    result = export(tmp_path / "rasa", "--knowledge", str(broken))
    assert result.exit_code == 1
    assert "kind" in result.output
    assert not (tmp_path / "rasa" / "data" / "nlu.yml").exists()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=6))
def test_any_example_text_reads_back_as_one_example(texts: list[str]) -> None:
    knowledge = KnowledgeBase(
        topics={
            "meta.greeting": topic("meta.greeting", {"en": texts}, kind="meta"),
            "urgent": topic("urgent", {"nl": ["help"]}, kind="urgent"),
        }
    )
    nlu = yaml.safe_load(project_files(knowledge)["data/nlu.yml"])["nlu"]
    read_back = rasa_examples(nlu[0]["examples"])
    expected = [normalize(t) for t in [*texts, "meta.greeting en"] if normalize(t)]
    assert read_back == list(dict.fromkeys(expected))
    assert all(example and not RASA_ENTITY.search(example) for example in read_back)
