"""The shared part of the fake provider APIs: a threaded HTTP server that records
every request and can inject faults.

A fake is a real HTTP server on 127.0.0.1 (a random port), so the real
python-telegram-bot and twilio clients talk to it through their base-URL settings.
Faults apply to the endpoints that deliver a message (``fault_applies``) and
happen *before* the fake accepts the message, as when a provider is down:

    fake.fail_next(Fault.error(500), Fault.rate_limit(2), Fault.hang(), Fault.close())
    fake.fail_randomly(0.3, [Fault.error(503), Fault.close()], seed=1)
    fake.clear_faults()

``Fault.accept_then_close()`` is the one fault after acceptance (the provider took
the message but the answer was lost): it shows why delivery is at-least-once.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class Fault:
    kind: str  # "error", "rate_limit", "hang", "close", "accept_then_close"
    status: int = 500
    retry_after: float = 1.0

    @classmethod
    def error(cls, status: int = 500) -> Fault:
        return cls("error", status=status)

    @classmethod
    def rate_limit(cls, retry_after: float = 1.0) -> Fault:
        return cls("rate_limit", status=429, retry_after=retry_after)

    @classmethod
    def hang(cls) -> Fault:
        """Never answer (until the fake stops); the client times out."""
        return cls("hang")

    @classmethod
    def close(cls) -> Fault:
        """Close the connection without answering."""
        return cls("close")

    @classmethod
    def accept_then_close(cls) -> Fault:
        return cls("accept_then_close")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    fault: Fault | None = None


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> Reply:
        return cls(status, json.dumps(data).encode(), "application/json", dict(headers))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None  # quiet

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = self.server.fake
        path = unquote(urlsplit(self.path).path)
        recorded = Recorded(
            method=self.command,
            path=path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            params=_params(self.headers.get("content-type", ""), body, self.path),
        )
        fault = fake._next_fault(recorded) if fake.fault_applies(recorded) else None
        recorded.fault = fault
        with fake._lock:
            fake.requests.append(recorded)
        if fault is not None and fault.kind == "hang":
            fake._release.wait(fake.hang_seconds)
            self._drop()
            return
        if fault is not None and fault.kind == "close":
            self._drop()
            return
        if fault is not None and fault.kind in ("error", "rate_limit"):
            reply = fake.fault_reply(fault)
        else:
            reply = fake.handle(recorded)
            if fault is not None and fault.kind == "accept_then_close":
                self._drop()
                return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _params(content_type: str, body: bytes, raw_path: str) -> dict[str, str]:
    query = dict(parse_qsl(urlsplit(raw_path).query, keep_blank_values=True))
    if content_type.startswith("application/x-www-form-urlencoded"):
        query.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    elif content_type.startswith("application/json") and body:
        data = json.loads(body)
        if isinstance(data, dict):
            query.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
    return query


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, fake: FakeServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeServer:
    """A fake provider API; use as a context manager (or ``start()``/``stop()``)."""

    hang_seconds = 60.0

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.RLock()
        self._faults: deque[Fault] = deque()
        self._random_faults: tuple[float, list[Fault], random.Random] | None = None
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle
    def start(self) -> Self:
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults
    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def fail_randomly(self, fraction: float, faults: Iterable[Fault], seed: int = 0) -> None:
        with self._lock:
            self._random_faults = (fraction, list(faults), random.Random(seed))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._random_faults = None

    def release_hangs(self) -> None:
        """Let hanging requests end (their connection is closed, nothing is accepted)."""
        self._release.set()
        self._release = threading.Event()

    def _next_fault(self, recorded: Recorded) -> Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._random_faults is not None:
                fraction, faults, rng = self._random_faults
                if rng.random() < fraction:
                    return rng.choice(faults)
        return None

    @property
    def faults_injected(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.fault is not None)

    # --- to override
    def fault_applies(self, recorded: Recorded) -> bool:
        return True

    def fault_reply(self, fault: Fault) -> Reply:
        return Reply.json(fault.status, {"error": "fault"})

    def handle(self, recorded: Recorded) -> Reply:
        return Reply.json(404, {"error": "not found"})
