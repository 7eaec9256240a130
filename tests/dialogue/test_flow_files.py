"""The flow files are checked when they are loaded: a mistake fails loudly at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import PROJECT_HOME
from bot.dialogue.flows import FlowError, load_flows


def test_the_project_flows_load() -> None:
    flows = load_flows(PROJECT_HOME / "flows")

    assert {"first_contact", "faq", "abstain", "urgent", "handoff", "media"} <= set(flows.flows)
    assert flows.for_command("/delete@HelplineBot") is flows.flows["delete"]
    assert flows.for_phrase("kunt u verwijder mijn gegevens") is flows.flows["delete"]
    assert flows.for_button("lang:ps") is flows.flows["language"]


def write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("    - go: nowhere\n", "no step 'nowhere'"),
        ("    - do: launch_rockets\n", "unknown action"),
        ("    - say: Hi\n      when: full_moon\n", "unknown condition"),
        ("    - wait: start\n", "has no 'on' or 'otherwise'"),
        ("    - say: Hi\n      go: start\n", "per instruction"),
        ("    - say: Fax us at {org_fax}\n", "unknown placeholders"),
        ("    - say:\n        - {text: Hi, when: full_moon}\n", "unknown condition"),
    ],
)
def test_a_broken_flow_is_refused_with_the_reason(tmp_path: Path, body: str, problem: str) -> None:
    for file in (PROJECT_HOME / "flows").glob("*.yaml"):
        (tmp_path / file.name).write_text(file.read_text(encoding="utf-8"), encoding="utf-8")
    write(tmp_path, "broken", "id: broken\nsteps:\n  start:\n" + body)

    with pytest.raises(FlowError, match=problem):
        load_flows(tmp_path)


def test_a_flow_named_differently_from_its_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "greeting", "id: hello\nsteps:\n  start: []\n")

    with pytest.raises(FlowError, match="id must be the file name"):
        load_flows(tmp_path)
