"""Fixtures for the matcher: small knowledge bases written to disk, the trained matcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.nlu.knowledge import cached_knowledge
from bot.nlu.matcher import Matcher, load_or_train
from tests.nlu.helpers import KNOWLEDGE, KnowledgeWriter


@pytest.fixture
def write_knowledge(tmp_path: Path) -> KnowledgeWriter:
    """Writes topics as ``knowledge/<id>.yaml`` and the shared contract beside it.

    Returns the knowledge directory; ``shared`` lists the contract's topic ids.
    """

    def write(*topics: dict[str, Any], shared: tuple[str, ...] | None = None) -> Path:
        checkout = tmp_path / "checkout"
        directory = checkout / "knowledge"
        directory.mkdir(parents=True, exist_ok=True)
        for topic in topics:
            (directory / f"{topic['id']}.yaml").write_text(
                yaml.safe_dump(topic, allow_unicode=True), encoding="utf-8"
            )
        if shared is not None:
            contract = tmp_path / "shared" / "kb" / "topics.yaml"
            contract.parent.mkdir(parents=True, exist_ok=True)
            kinds = {t["id"]: t.get("kind", "faq") for t in topics}
            entries = [{"id": i, "kind": kinds.get(i, "faq")} for i in shared]
            contract.write_text(yaml.safe_dump({"topics": entries}), encoding="utf-8")
        return directory

    return write


@pytest.fixture(scope="session")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matcher]:
    """The matcher trained on the real knowledge base (cached for this test session)."""
    cache = tmp_path_factory.mktemp("matcher-cache")
    yield load_or_train(cached_knowledge(KNOWLEDGE.resolve()), cache)
