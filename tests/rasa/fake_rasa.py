"""A fake Rasa 3.6 server: ``POST /model/parse`` answered from captured responses.

``FakeRasa()`` loads ``tests/fixtures/rasa/*.json`` (real Rasa 3.6.21 answers) and
answers a request with the capture whose ``text`` equals the request's;
``FakeRasa(load_captures(SHAPES))`` answers with the hand-made shapes instead. A text
it has no capture for is recorded in ``unexpected`` and answered 500, so a test that
sends something else than it thinks fails loudly. Faults come from ``FakeServer``
(``fake.fail_next(Fault.error(500), Fault.hang(), Fault.close())``);
``garbage_next(body)`` answers 200 with a body that is no parse result.
Run it alone with ``python -m tests.rasa.fake_rasa`` (prints its URL).
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

from tests.support.fakes.server import FakeServer, Recorded, Reply

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rasa"
# Hand-made in the shape of Rasa's answers, for what real captures did not show.
SHAPES = CAPTURES / "shapes"
VERSION = {"version": "3.6.20", "minimum_compatible_version": "3.5.0"}


def load_captures(directory: Path = CAPTURES) -> dict[str, dict[str, Any]]:
    """Every capture, by the text it answers."""
    captures = {}
    for file in sorted(directory.glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        captures[data["text"]] = data
    return captures


class FakeRasa(FakeServer):
    def __init__(self, captures: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.captures = load_captures() if captures is None else captures
        self.parsed: list[str] = []  # texts received on /model/parse
        self.unexpected: list[str] = []
        self._garbage: deque[Reply] = deque()

    def garbage_next(self, body: bytes | str, content_type: str = "application/json") -> None:
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._garbage.append(Reply(200, raw, content_type))

    def fault_applies(self, recorded: Recorded) -> bool:
        return recorded.path == "/model/parse"

    def handle(self, recorded: Recorded) -> Reply:
        if recorded.method == "GET" and recorded.path == "/":
            return Reply(200, b"Hello from Rasa: 3.6.20", "text/plain")
        if recorded.method == "GET" and recorded.path == "/version":
            return Reply.json(200, VERSION)
        if recorded.method != "POST" or recorded.path != "/model/parse":
            return Reply.json(404, {"status": "failure", "reason": "NotFound", "code": 404})
        text = json.loads(recorded.body or b"{}").get("text", "")
        with self._lock:
            self.parsed.append(text)
            if self._garbage:
                return self._garbage.popleft()
            capture = self.captures.get(text)
            if capture is None:
                self.unexpected.append(text)
                return Reply.json(500, {"status": "failure", "reason": "no capture for this text"})
        return Reply.json(200, capture)


if __name__ == "__main__":
    import time

    with FakeRasa() as fake:
        print(fake.url, flush=True)
        while True:
            time.sleep(3600)
