"""``bench/rasa_compare.py`` runs end to end, with a stand-in for the ``rasa`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench.rasa_compare import FIXTURES, main
from bot.config import PROJECT_HOME

ITEMS = [
    {"text": "Waar kan ik asiel aanvragen in Brussel?", "topic": "asylum.apply", "lang": "nl"},
    {"text": "hallo goeiemiddag", "topic": "meta.greeting", "lang": "nl"},
    {"text": "ik wil niet meer leven", "topic": "urgent", "lang": "nl"},
    {"text": "iphone 11 te koop 150 euro", "topic": None, "lang": "nl"},
]


@pytest.fixture
def stand_in(tmp_path: Path) -> Path:
    script = tmp_path / "rasa"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(PROJECT_HOME)!r})\n"
        "from tests.rasa.rasa_stand_in import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    script.chmod(0o755)
    return script


def test_without_a_rasa_installation_it_says_how_to_make_one_and_succeeds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HELPLINE_BENCH_RASA", raising=False)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "python3.10 -m venv" in out
    assert "pip install 'rasa==3.6.*'" in out


def test_it_exports_trains_serves_and_scores_both_backends(
    stand_in: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    evaluation = tmp_path / "dev.jsonl"
    evaluation.write_text("".join(json.dumps(item) + "\n" for item in ITEMS))
    monkeypatch.setenv("HELPLINE_BENCH_RASA", str(stand_in))
    project = tmp_path / "project"

    status = main(
        ["--eval", str(evaluation), "--workdir", str(project), "--capture", str(tmp_path / "cap")]
    )

    out = capsys.readouterr().out
    assert status == 0
    assert (project / "data" / "nlu.yml").is_file()
    for backend in ("builtin", "rasa", "rasa-raw"):
        assert f"== {backend}\n" in out
    backends = out.split("\nbackend ")[1].split("\n\n")[0].splitlines()[1:]
    rows = {line.split()[0]: line.split() for line in backends}
    servers = out.split("\nserver ")[1].split("\n\n")[0].splitlines()[1:]
    assert [line.split()[0] for line in servers] == ["builtin", "rasa"]
    # The stand-in knows the asylum and greeting messages; helpline's urgent detection
    # catches the emergency before Rasa is asked, and the null item abstains.
    assert rows["rasa"][1] == "1.000"
    assert sorted(p.name for p in (tmp_path / "cap").iterdir()) == sorted(
        p.name for p in FIXTURES.glob("*.json")
    )
