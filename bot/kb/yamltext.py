"""A topic's YAML, written back after staff changed it.

A topic nobody changed keeps its text byte for byte (``store`` stores the text, not a
parse of it). A changed one is written in the style of ``knowledge/``: the keys in
their usual order, answers as literal blocks, ``related`` on one line, everything else
in block style, so that its diff against the previous revision shows what changed.
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.nlu.knowledge import read_yaml

__all__ = ["dump_topic", "load_topic", "normalise_answer"]

KEY_ORDER = (
    "id",
    "kind",
    "owner",
    "reviewed_on",
    "review_note",
    "review_every",
    "sources",
    "language_differences",
    "related",
    "languages",
)
ANSWER_ORDER = ("title", "answer", "examples")


class _Inline(list[str]):
    """A list written on one line: ``[a, b]``."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Lists indented under their key ("  - x"), as the files are written by hand.
        super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _inline(dumper: yaml.SafeDumper, value: _Inline) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(_Inline, _inline)


def normalise_answer(text: str) -> str:
    """An answer as typed in a form: no trailing spaces, Windows line ends or blank
    edges; a final line end, so that it is written as a literal block."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip() + "\n"


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    known = {key: mapping[key] for key in order if key in mapping}
    return known | {key: value for key, value in mapping.items() if key not in known}


def dump_topic(raw: dict[str, Any]) -> str:
    """The YAML text of a topic given as its parsed mapping."""
    topic = _ordered(raw, KEY_ORDER)
    if isinstance(topic.get("related"), list):
        topic["related"] = _Inline(topic["related"])
    languages = topic.get("languages")
    if isinstance(languages, dict):
        topic["languages"] = {
            lang: _ordered(answer, ANSWER_ORDER) if isinstance(answer, dict) else answer
            for lang, answer in languages.items()
        }
    return yaml.dump(
        topic, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096, indent=2
    )


def load_topic(text: str) -> dict[str, Any]:
    """A topic's YAML text as a mapping to change (``dump_topic`` writes it back)."""
    raw = read_yaml(text)
    if not isinstance(raw, dict):
        raise ValueError("a topic must be a mapping")
    return raw
