"""Two ``helpline serve`` processes on one PostgreSQL database, each with its own home
(its own model cache, as on two machines): a published change reaches both without a
restart. A small run of ``bench/kb_publish.py`` (which see); no timings are asserted."""

from __future__ import annotations

from typing import Any

import pytest

from bench import kb_publish
from bench.scaleout import empty_database
from tests.support.database import POSTGRES_URL

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(
        not POSTGRES_URL.startswith("postgresql"),
        reason="several instances need PostgreSQL: set HELPLINE_TEST_DATABASE_URL",
    ),
]


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    with empty_database(POSTGRES_URL) as url:
        return kb_publish.run(url, instances=2)


def test_both_instances_say_the_published_answer_without_a_restart(run: dict[str, Any]) -> None:
    assert all(kb_publish.NEW_ANSWER not in text for text in run["before"])
    assert [kb_publish.NEW_ANSWER in said[-1] for said in run["after"]] == [True, True]


def test_until_then_each_instance_gave_the_previous_answer(run: dict[str, Any]) -> None:
    for before, said in zip(run["before"], run["after"], strict=True):
        assert all(text == before for text in said[:-1])
