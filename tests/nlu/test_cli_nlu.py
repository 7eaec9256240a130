"""``helpline match`` and ``helpline eval`` as other tools call them: real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.nlu.helpers import KNOWLEDGE

HELPLINE = str(Path(sys.executable).with_name("helpline"))


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The real knowledge base, with the model cache in a directory of this test run."""
    home = tmp_path_factory.mktemp("home")
    return {
        **os.environ,
        "HELPLINE_HOME": str(home),
        "HELPLINE_KNOWLEDGE_DIR": str(KNOWLEDGE),
        "HELPLINE_ENV": "test",
    }


def _helpline(
    environment: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HELPLINE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def test_match_answers_each_json_line_in_order(environment: dict[str, str]) -> None:
    requests = [
        {"text": "waar kan ik asiel aanvragen in brussel"},
        {"text": "my husband is hitting me, help"},
        {"text": "which shampoo works against dandruff"},
        {"text": "how do i register my kids at a school here", "lang": "ps"},
    ]
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)

    result = _helpline(environment, "match", stdin=stdin)

    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["topic"] for a in answers] == [
        "asylum.apply",
        "urgent",
        None,
        "education.children",
    ]
    assert [a["lang"] for a in answers] == ["nl", "en", "en", "ps"]
    assert all(set(a) == {"topic", "score", "lang"} for a in answers)
    assert all(0.0 <= a["score"] <= 1.0 for a in answers)


def test_match_answers_a_bad_line_with_an_error_and_keeps_going(
    environment: dict[str, str],
) -> None:
    stdin = 'not json\n{"lang": "nl"}\n{"text": "bonjour"}\n'

    result = _helpline(environment, "match", stdin=stdin)

    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0
    assert [sorted(line) for line in lines] == [["error"], ["error"], ["lang", "score", "topic"]]
    assert lines[2]["topic"] == "meta.greeting"


def test_eval_prints_scores_per_language_and_overall(
    environment: dict[str, str], tmp_path: Path
) -> None:
    items = [
        {
            "text": "ik wil asiel aanvragen, waar moet ik zijn",
            "topic": "asylum.apply",
            "lang": "nl",
        },
        {"text": "quel shampoing contre les pellicules", "topic": None, "lang": "fr"},
        {"text": "my daughter can't breathe", "topic": "urgent", "lang": "en"},
    ]
    labelled = tmp_path / "set.jsonl"
    labelled.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))

    result = _helpline(environment, "eval", str(labelled))

    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert list(rows) == ["nl", "fr", "en", "all"]
    # columns: lang n top1 urgent null->topic lang-acc p50 p99
    assert rows["all"][1:3] == ["3", "1.000"]
    assert rows["en"][3] == "1.000"
    assert rows["fr"][4] == "0.000"
    assert rows["nl"][3] == "-"


def test_eval_refuses_a_file_in_another_format(environment: dict[str, str], tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"message": "hello"}\n')

    result = _helpline(environment, "eval", str(wrong))

    assert result.returncode == 2
    assert "wrong.jsonl:1: not an evaluation item" in result.stderr


def test_an_answer_from_a_child_topic_counts_for_its_parent() -> None:
    from bot.nlu.evaluation import answers_for

    assert answers_for("reception.no_place.waiting_list", "reception.no_place")
    assert answers_for("reception.no_place", "reception.no_place")
    assert not answers_for("reception.no_place", "reception.no_place.waiting_list")
    assert not answers_for("reception.no_placement", "reception.no_place")
    assert not answers_for("reception.no_place", None)
    assert answers_for(None, None)
