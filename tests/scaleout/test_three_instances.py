"""Three ``helpline serve`` processes on one PostgreSQL database, as behind a load balancer.

A small run of ``bench/scaleout.py`` (which see): real processes migrated at once,
a few hundred signed webhooks round-robin with duplicates racing each other and
retries to other instances, the fake providers counting every reply by message id,
and a staff member's live queue on the first instance while a message arrives at
the third. No timings are asserted.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import scaleout
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
    return scaleout.run_config(
        3, 240, 12, POSTGRES_URL, twins=0.1, retries=0.1, at_once=10, drain_timeout=60
    )


def test_instances_started_together_migrate_the_database_once(run: dict[str, Any]) -> None:
    assert run["migrations_at_once"] == 3
    assert run["migrations_failed"] == 0
    assert run["schema_at_head"]


def test_every_message_is_acknowledged_and_stored_once(run: dict[str, Any]) -> None:
    assert run["twins_in_load"] > 0 and run["retries_later"] > 0
    assert run["refused_during_load"] == 0
    assert run["duplicates_not_2xx"] == 0  # both instances answer 2xx to a duplicate
    assert run["never_acknowledged"] == 0
    assert run["inbound_stored"] == run["distinct_messages"]
    assert run["lost_inbound"] == 0
    assert run["duplicated_inbound"] == 0


def test_every_message_is_answered_in_one_conversation_per_person(run: dict[str, Any]) -> None:
    assert run["drained"]
    assert run["of_whom_returning"] > 0
    assert run["unprocessed_inbound"] == 0
    assert run["unanswered_conversations"] == 0
    assert run["contacts_with_two_open_conversations"] == 0


def test_every_reply_reaches_the_provider_exactly_once(run: dict[str, Any]) -> None:
    assert run["outbound_sent"] == run["outbound_stored"] > run["distinct_messages"] // 3
    assert run["outbound_not_sent"] == 0
    assert run["sent_but_unknown_to_provider"] == 0
    assert run["duplicated_deliveries"] == 0, run["duplicate_examples"]
    assert run["unexplained_sends"] == 0


def test_staff_on_the_first_instance_see_live_a_conversation_from_the_third(
    run: dict[str, Any],
) -> None:
    assert run["staff_session_valid_on_every_instance"]
    assert run["live_update_a_sees_c"], run["live_update_detail"]
