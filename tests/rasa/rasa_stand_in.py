"""A stand-in for the ``rasa`` command, so that ``bench/rasa_compare.py`` can be run
end to end here (Rasa itself needs Python < 3.11).

``rasa train nlu ... --out models --fixed-model-name NAME`` checks that the exported
project is there and writes an empty ``models/NAME.tar.gz``; ``rasa run --port P``
serves ``/model/parse`` on 127.0.0.1:P from the captures of ``tests/fixtures/rasa/``,
and answers Rasa's ``nlu_fallback`` to any other text.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.rasa.fake_rasa import load_captures

PROJECT_FILES = ("config.yml", "domain.yml", "data/nlu.yml")


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def train(args: list[str]) -> int:
    missing = [name for name in PROJECT_FILES if not Path(name).is_file()]
    if args[:1] != ["nlu"] or missing:
        print(f"not an NLU project: missing {missing}", file=sys.stderr)
        return 1
    models = Path(option(args, "--out"))
    models.mkdir(exist_ok=True)
    (models / f"{option(args, '--fixed-model-name')}.tar.gz").write_bytes(b"")
    return 0


def fallback(text: str) -> dict[str, Any]:
    intent = {"name": "nlu_fallback", "confidence": 0.6}
    return {"text": text, "intent": intent, "entities": [], "intent_ranking": [intent]}


def serve(args: list[str]) -> int:
    captures = load_captures()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            text = json.loads(body or b"{}").get("text", "")
            answer = json.dumps(captures.get(text) or fallback(text)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", int(option(args, "--port"))), Handler)
    server.serve_forever()
    return 0


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "train":
        return train(args)
    if command == "run" and "--enable-api" in args:
        return serve(args)
    print(f"the stand-in knows no `rasa {' '.join(argv)}`", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
