"""The console's per-address login limit holds behind the reverse proxy.

``helpline serve`` as deployed (docs/deploy.md: a proxy on 127.0.0.1 appending the
client's address to ``X-Forwarded-For``). A guesser who writes their own
``X-Forwarded-For`` must not become a new address at every attempt: only the
address the trusted proxy appended counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.serving import helpline_serve


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with helpline_serve(tmp_path / "helpline.db", secret_key="login-limit-test-secret") as url:
        yield url


def test_a_guesser_cannot_escape_the_login_limit_by_forging_forwarded_for(served: str) -> None:
    statuses = []
    with httpx.Client(base_url=served) as browser:
        for n in range(25):
            page = browser.get("/console/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token is not None
            response = browser.post(
                "/console/login",
                data={
                    "email": f"guess{n}@example.org",
                    "password": "x" * 12,
                    "csrf_token": token[1],
                },
                # what the guesser wrote, then what the proxy appended: their real address
                headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.7"},
            )
            statuses.append(response.status_code)

    assert statuses[0] == 401
    assert statuses[-1] == 429
