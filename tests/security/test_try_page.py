"""The /try page trusts no Host header and lets nothing keep its transcript.

Its links were built from the request's ``Host``: whoever controls that header (a
proxy that passes it on, a poisoned cache) could point the page's script and its
posts elsewhere. And a transcript (what the person wrote, what the bot answered)
must not stay in a browser's or a proxy's cache after the tab is closed.
"""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient


def test_a_forged_host_header_appears_nowhere_in_the_page_or_its_links(
    client: TestClient,
) -> None:
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    page = client.get("/try", headers=forged)
    assert (
        client.post(
            "/try/messages", json={"id": uuid.uuid4().hex, "text": "hello"}, headers=forged
        ).status_code
        == 202
    )
    again = client.get("/try", headers=forged)

    for response in (page, again):
        assert response.status_code == 200
        assert "evil.example" not in response.text
        assert all("evil.example" not in value for value in response.headers.values())
        links = re.findall(r'(?:src|href|data-[a-z-]+-url)="([^"]*)"', response.text)
        assert len(links) == 4, links  # the script, the style sheet, messages, restart
        assert all(link.startswith("/try") for link in links), links
        assert "/try/static/try.js" in links


def test_the_page_and_every_transcript_answer_are_never_stored(client: TestClient) -> None:
    page = client.get("/try")
    said = client.post("/try/messages", json={"id": uuid.uuid4().hex, "text": "hello"})
    polled = client.get("/try/messages")
    restarted = client.post("/try/restart")

    assert polled.json()["messages"][0]["text"] == "hello"
    for response in (page, said, polled, restarted):
        assert response.headers["cache-control"] == "no-store", response.request.url
