"""A fake LibreTranslate server: ``POST /translate`` answers from a phrase book.

Known texts (``fake.learn(text, target, translation)``) are translated; anything else
comes back as ``[target] text``, so a test can tell a translation from the original.
Faults (``fail_next``) apply to ``/translate``, as for the other fakes.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.fakes.server import FakeServer, Recorded, Reply


class FakeTranslateAPI(FakeServer):
    def __init__(self, api_key: str = "") -> None:
        super().__init__()
        self.api_key = api_key
        self.phrases: dict[tuple[str, str], str] = {}

    def learn(self, text: str, target: str, translation: str) -> None:
        self.phrases[(text, target)] = translation

    def fault_applies(self, recorded: Recorded) -> bool:
        return recorded.path == "/translate"

    def handle(self, recorded: Recorded) -> Reply:
        if recorded.method != "POST" or recorded.path != "/translate":
            return Reply.json(404, {"error": "Not Found"})
        body: dict[str, Any] = json.loads(recorded.body or b"{}")
        if self.api_key and body.get("api_key") != self.api_key:
            return Reply.json(403, {"error": "Invalid API key"})
        text, target = str(body.get("q", "")), str(body.get("target", ""))
        if not text or not target or body.get("format") != "text":
            return Reply.json(400, {"error": "Invalid request"})
        translated = self.phrases.get((text, target), f"[{target}] {text}")
        return Reply.json(200, {"translatedText": translated})

    @property
    def translated(self) -> list[dict[str, Any]]:
        """What was asked, in order (the request bodies)."""
        return [json.loads(r.body) for r in self.requests if r.path == "/translate"]
