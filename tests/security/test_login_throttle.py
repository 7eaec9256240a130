"""Wrong console passwords slow the guesser down, and tell nobody which accounts exist.

- A known account and an unknown e-mail address answer alike, after any number of
  failures, and cost the same work (one Argon2 verification per counted attempt: the
  account's hash, or a dummy one).
- An attempt is counted in the database before its password is checked, so parallel
  guesses get no more password checks than the limit.
- Failures count per account and client address (an IPv6 client by its /64): a
  stranger guessing from elsewhere cannot keep a staff member out. Only very many
  failures for one account slow down everyone's logins to it, and for a while only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from bot.console import auth
from bot.models import LoginThrottle
from tests.support.factories import PASSWORD
from tests.support.staff import csrf_token, make_staff

ALICE = "alice@example.org"
ATTACKER = ("203.0.113.66", 50000)
ELSEWHERE = ("198.51.100.7", 50001)
PARALLEL = 16


def browser(app: FastAPI, address: tuple[str, int]) -> TestClient:
    return TestClient(app, headers={"accept-language": "en"}, client=address)


def attempt(client: TestClient, email: str, password: str) -> httpx.Response:
    token = csrf_token(client)
    return client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def error_of(response: httpx.Response) -> str:
    found = re.search(r'<p class="error-message" role="alert">(.*?)</p>', response.text, re.S)
    return found.group(1) if found else ""


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The password hashes the login verifies, one entry per verification."""
    hashes: list[str] = []
    lock = threading.Lock()
    real = auth._verify

    def counting(password_hash: str, password: str) -> bool:
        with lock:
            hashes.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "_verify", counting)
    yield hashes


def test_a_known_account_and_an_unknown_address_answer_alike_after_failures(
    engine: Engine, app: FastAPI, verified: list[str]
) -> None:
    make_staff(engine, app, ALICE)
    seen = {}
    for email, address in ((ALICE, ATTACKER), ("nobody@example.org", ELSEWHERE)):
        verified.clear()
        with browser(app, address) as client:
            responses = [attempt(client, email, "not the password") for _ in range(8)]
        answers = [(r.status_code, error_of(r), "retry-after" in r.headers) for r in responses]
        seen[email] = (answers, list(verified))

    known, unknown = seen[ALICE], seen["nobody@example.org"]
    assert known[0] == unknown[0]  # the same answers, one after another
    assert [status for status, _, _ in known[0]] == [401] * auth.MAX_FAILURES + [429] * 3
    assert not [answer for answer in known[0] if "locked" in answer[1]]
    # The same work: as many Argon2 verifications, with the same parameters.
    assert len(known[1]) == len(unknown[1]) == auth.MAX_FAILURES
    assert all(
        h.startswith("$argon2") and not auth.hasher.check_needs_rehash(h) for h in unknown[1]
    )


def test_parallel_guesses_get_no_more_password_checks_than_the_limit(
    engine: Engine, app: FastAPI, verified: list[str]
) -> None:
    make_staff(engine, app, ALICE)
    start = threading.Barrier(PARALLEL)
    with browser(app, ATTACKER) as client:
        token = csrf_token(client)

        def guess(n: int) -> int:
            start.wait()
            response = client.post(
                "/console/login",
                data={"email": ALICE, "password": f"guess number {n}", "csrf_token": token},
                follow_redirects=False,
            )
            return response.status_code

        with ThreadPoolExecutor(PARALLEL) as pool:
            statuses = list(pool.map(guess, range(PARALLEL)))
        right_password = attempt(client, ALICE, PASSWORD)

    assert len(verified) == auth.MAX_FAILURES
    assert sorted(statuses) == [401] * auth.MAX_FAILURES + [429] * (PARALLEL - auth.MAX_FAILURES)
    assert right_password.status_code == 429  # this address waits, whatever it sends
    assert len(verified) == auth.MAX_FAILURES


def test_a_stranger_cannot_keep_a_staff_member_out(
    engine: Engine, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past the account's own limit too: a client made to wait adds nothing to it.
    monkeypatch.setattr(auth, "ACCOUNT_MAX_FAILURES", 2 * auth.MAX_FAILURES)
    make_staff(engine, app, ALICE)
    with browser(app, ATTACKER) as attacker:
        guesses = [attempt(attacker, ALICE, f"guess number {n}") for n in range(15)]
    with browser(app, ELSEWHERE) as alice:
        logged_in = attempt(alice, ALICE, PASSWORD)

    assert guesses[-1].status_code == 429
    assert int(guesses[-1].headers["retry-after"]) > 0
    assert logged_in.status_code == 303
    assert logged_in.headers["location"] == "/console/queue"


def test_an_ipv6_client_is_one_client_across_its_64(engine: Engine, app: FastAPI) -> None:
    make_staff(engine, app, ALICE)
    with browser(app, ("2001:db8:1:2::1", 50000)) as guesser:
        for n in range(auth.MAX_FAILURES):
            assert attempt(guesser, ALICE, f"guess number {n}").status_code == 401
    with browser(app, ("2001:db8:1:2:ffff:ffff:ffff:fffe", 50000)) as same_subscriber:
        assert attempt(same_subscriber, ALICE, PASSWORD).status_code == 429
    with browser(app, ("2001:db8:1:3::1", 50000)) as another_subscriber:
        assert attempt(another_subscriber, ALICE, PASSWORD).status_code == 303


def test_very_many_failures_slow_down_everyone_for_a_while_not_for_ever(
    engine: Engine, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "ACCOUNT_MAX_FAILURES", 3 * auth.MAX_FAILURES)
    make_staff(engine, app, ALICE)
    for n in range(3):  # a guesser with three addresses
        with browser(app, (f"203.0.113.{n + 1}", 50000)) as guesser:
            for _ in range(auth.MAX_FAILURES):
                assert attempt(guesser, ALICE, "not the password").status_code == 401

    with browser(app, ELSEWHERE) as alice:
        throttled = attempt(alice, ALICE, PASSWORD)
        with engine.begin() as connection:  # the account's window passes
            connection.execute(
                update(LoginThrottle).values(
                    window_start=LoginThrottle.window_start - auth.ACCOUNT_WINDOW - timedelta(1)
                )
            )
        logged_in = attempt(alice, ALICE, PASSWORD)

    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert "Wrong e-mail address or password" not in throttled.text
    assert logged_in.status_code == 303
