"""``helpline match`` and ``helpline eval`` read the published knowledge base when the
database has one, and ``knowledge/`` on a fresh checkout, without creating a database
(real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.kb import store
from tests.nlu.helpers import KNOWLEDGE

HELPLINE = str(Path(sys.executable).with_name("helpline"))
NEW_WORDING = "purple giraffe permit office"
TOPIC = "education.children"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout's home with nothing under var/ yet (models are trained here)."""
    return tmp_path_factory.mktemp("home")


def helpline(
    home: Path, *args: str, stdin: str = "", database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELPLINE_HOME": str(home), "HELPLINE_ENV": "test"}
    env["HELPLINE_KNOWLEDGE_DIR"] = str(KNOWLEDGE)
    env.pop("HELPLINE_DATABASE_URL", None)
    if database_url is not None:
        env["HELPLINE_DATABASE_URL"] = database_url
    result = subprocess.run(
        [HELPLINE, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result


def match(home: Path, *texts: str, database_url: str | None = None) -> list[dict[str, object]]:
    stdin = "".join(json.dumps({"text": text}) + "\n" for text in texts)
    result = helpline(home, "match", stdin=stdin, database_url=database_url)
    return [json.loads(line) for line in result.stdout.splitlines()]


def top1(home: Path, labelled: Path, database_url: str | None = None) -> str:
    """``helpline eval``'s overall top-1 accuracy."""
    rows = helpline(home, "eval", str(labelled), database_url=database_url).stdout.splitlines()
    overall = next(row.split() for row in rows if row.startswith("all"))
    return overall[2]


def test_match_on_a_fresh_checkout_reads_the_folder_and_creates_no_database(home: Path) -> None:
    answers = match(home, "waar kan ik asiel aanvragen in brussel")

    assert [a["topic"] for a in answers] == ["asylum.apply"]
    assert all(set(a) == {"topic", "score", "lang"} for a in answers)
    assert not (home / "var" / "helpline.db").exists()


def test_match_and_eval_read_what_was_published(
    home: Path, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    labelled = tmp_path / "new.jsonl"
    labelled.write_text(json.dumps({"text": NEW_WORDING, "topic": TOPIC, "lang": "en"}) + "\n")
    assert top1(home, labelled) == "0.000"  # no database: knowledge/
    with Session(engine) as session:
        store.import_directory(session, KNOWLEDGE)
        session.commit()
    assert match(home, NEW_WORDING, database_url=database_url)[0]["topic"] != TOPIC

    with Session(engine) as session:
        examples = list(store.published(session).knowledge().answer(TOPIC, "en").examples)  # type: ignore[union-attr]
        wordings = [NEW_WORDING, "the purple giraffe permit", "giraffe permit office purple"]
        draft = store.save_draft(
            session,
            TOPIC,
            "system:test",
            changes={"languages": {"en": {"examples": [*examples, *wordings]}}},
        )
        assert draft.id is not None
        store.publish(session, draft.id, "system:test")
        session.commit()

    assert match(home, NEW_WORDING, database_url=database_url)[0]["topic"] == TOPIC
    assert top1(home, labelled, database_url=database_url) == "1.000"
