"""The real knowledge base, and small valid topics for the matcher and knowledge tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import PROJECT_HOME
from bot.nlu.knowledge import LANGUAGES

KNOWLEDGE = PROJECT_HOME / "knowledge"
TODAY = dt.date(2026, 11, 26)


def topic_data(topic_id: str, kind: str = "faq", **overrides: Any) -> dict[str, Any]:
    """A valid topic: six languages, eight distinct examples each."""
    data: dict[str, Any] = {
        "id": topic_id,
        "kind": kind,
        "owner": "infolijn",
        "reviewed_on": TODAY,
        "review_every": 180,
        "sources": [{"title": "Fedasil", "url": "https://www.fedasil.be"}],
        "related": [],
        "languages": {
            lang: {
                "title": f"{topic_id} ({lang})",
                "answer": f"The answer about {topic_id} in {lang}.",
                "examples": [f"{topic_id} question {n} in {lang}" for n in range(8)],
            }
            for lang in LANGUAGES
        },
    }
    data.update(overrides)
    return data


KnowledgeWriter = Callable[..., Path]
