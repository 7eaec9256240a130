"""``helpline eval --staff-examples``: the examples staff added, held out of training."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli import app
from bot.config import PROJECT_HOME
from bot.kb import heldout, store
from bot.nlu.evaluation import Item
from bot.nlu.knowledge import knowledge_from_texts, read_texts

TOPICS = ("asylum.apply", "health.medical_care", "work.permission")
# "How do I get a work permit letter?", added by staff to work.permission.
ADDED = "زه څنګه د کار کولو د اجازې پاڼه ترلاسه کړم؟"


def small_knowledge(path: Path) -> Path:
    """Three topics of knowledge/ (trains in moments), without their links to others."""
    path.mkdir()
    for topic in TOPICS:
        raw = yaml.safe_load((PROJECT_HOME / "knowledge" / f"{topic}.yaml").read_text("utf-8"))
        raw.pop("related", None)
        (path / f"{topic}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    shutil.copy(PROJECT_HOME / "knowledge" / "organisation.yaml", path / "organisation.yaml")
    return path


def test_without_drops_only_the_held_out_examples(tmp_path: Path) -> None:
    knowledge = knowledge_from_texts(read_texts(small_knowledge(tmp_path / "kb")))
    example = knowledge.topics["asylum.apply"].answers["nl"].examples[0]
    held = [Item(f"  {example} ", "asylum.apply", "nl")]
    left = heldout.without(knowledge, [Item(" ".join(held[0].text.split()), "asylum.apply", "nl")])
    assert example not in left.topics["asylum.apply"].answers["nl"].examples
    assert (
        left.topics["asylum.apply"].answers["fr"] == knowledge.topics["asylum.apply"].answers["fr"]
    )
    assert len(left.topics["asylum.apply"].answers["nl"].examples) == (
        len(knowledge.topics["asylum.apply"].answers["nl"].examples) - 1
    )


def test_the_staff_examples_are_scored_held_out(helpline_cli: CliRunner, engine: Engine) -> None:
    assert helpline_cli.invoke(app, ["eval", "--staff-examples"]).exit_code == 1  # none yet
    with Session(engine) as session:
        if store.is_empty(session):
            store.import_directory(session, PROJECT_HOME / "knowledge")
        revision = store.add_example(session, "work.permission", "ps", ADDED, "system:test")
        store.publish(session, revision.id or 0, "system:test")
        session.commit()

    result = helpline_cli.invoke(app, ["eval", "--staff-examples"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["lang", "n", "top1"]
    assert [line.split()[:2] for line in lines[1:]] == [["ps", "1"], ["all", "1"]]
    assert "1 staff examples, held out of published version" in result.output


def test_eval_needs_a_file_or_the_staff_examples(helpline_cli: CliRunner) -> None:
    assert helpline_cli.invoke(app, ["eval"]).exit_code == 2
