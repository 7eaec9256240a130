"""Body limit: a few huge posts to ``/try`` and what they do to the server's memory.

    .venv/bin/python -m bench.body_limit [--posts 4] [--size-mb 150] \\
        [--max-body-bytes N]

Starts ``helpline serve`` (worker inside, as deployed) on a fresh SQLite file on
127.0.0.1, has the bot answer one web-chat message (so that the matcher and the
flows are loaded), and notes the idle resident memory (VmRSS of the server process).
Then ``--posts`` clients at once each stream a ``--size-mb`` MB JSON body to
``/try/messages``, chunked (no Content-Length), made on the fly in 64 KiB chunks, as
an unauthenticated visitor could. Meanwhile memory is sampled every 20 ms. Reported:
idle and peak RSS, the growth (peak minus idle; the target is within 50 MiB), and
for each post its status (or the error that ended it) and how much of it the server
let the client send. ``--max-body-bytes`` sets ``HELPLINE_MAX_BODY_BYTES`` for the
run (a huge value shows the service without a cap).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench import load
from bench.sigkill import SECRET_KEY, Server, fresh_database, print_result
from bench.soak import rss_mib

TARGET_GROWTH_MIB = 50.0
CHUNK = b"a" * (64 * 1024)
HEAD, TAIL = b'{"id": "bench-body-limit", "text": "', b'"}'


class Post(threading.Thread):
    """One client streaming ``size`` bytes of JSON to ``/try/messages``."""

    def __init__(self, base_url: str, size: int, start: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.size = size
        self.start_together = start
        self.sent = 0
        self.outcome = "not run"

    def body(self) -> Iterator[bytes]:
        self.sent += len(HEAD)
        yield HEAD
        while self.sent < self.size - len(TAIL):
            self.sent += len(CHUNK)
            yield CHUNK
        self.sent += len(TAIL)
        yield TAIL

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=300) as client:
            client.get("/try")  # the chat cookie
            self.start_together.wait()
            try:
                response = client.post(
                    "/try/messages",
                    content=self.body(),
                    headers={"Content-Type": "application/json"},
                )
                self.outcome = str(response.status_code)
            except httpx.HTTPError as exc:
                self.outcome = type(exc).__name__


def answered(client: httpx.Client) -> bool:
    found = client.get("/try/messages").json()["messages"]
    return any(m["side"] != "me" for m in found)


def run(posts: int, size_mb: float, max_body_bytes: int | None) -> dict[str, Any]:
    size = int(size_mb * 1_000_000)
    with fresh_database(None) as url:
        port = load.free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = dict(
            os.environ,
            HELPLINE_DATABASE_URL=url,
            HELPLINE_PUBLIC_URL=base_url,
            HELPLINE_SECRET_KEY=SECRET_KEY,
            HELPLINE_DEBOUNCE_SECONDS="0",
            HELPLINE_LOG_LEVEL="WARNING",
        )
        if max_body_bytes is not None:
            env["HELPLINE_MAX_BODY_BYTES"] = str(max_body_bytes)
        server = Server(port, env)
        try:
            server.start()
            # Warm up: one message answered loads the matcher and the flows.
            with httpx.Client(base_url=base_url, timeout=60) as visitor:
                visitor.get("/try")
                said = visitor.post("/try/messages", json={"id": "warmup-1", "text": "hallo"})
                assert said.status_code == 202, said.text
                deadline = time.monotonic() + 120
                while not answered(visitor):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the bot did not answer the warm-up message")
                    time.sleep(0.1)
            idle_samples = []
            for _ in range(10):
                idle_samples.append(rss_mib(server.pid))
                time.sleep(0.1)
            idle = max(idle_samples)

            go = threading.Event()
            clients = [Post(base_url, size, go) for _ in range(posts)]
            for client in clients:
                client.start()
            peak = idle
            started = time.monotonic()
            go.set()
            while any(client.is_alive() for client in clients):
                peak = max(peak, rss_mib(server.pid))
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            after = rss_mib(server.pid)
            with httpx.Client(base_url=base_url, timeout=10) as visitor:
                still_up = visitor.get("/healthz").status_code == 200
        finally:
            server.stop()
    return {
        "posts": posts,
        "post_size_mb": size_mb,
        "max_body_bytes": max_body_bytes if max_body_bytes is not None else "default",
        "statuses": [client.outcome for client in clients],
        "sent_mb_per_post": [round(client.sent / 1_000_000, 1) for client in clients],
        "seconds": round(elapsed, 2),
        "rss_idle_mib": round(idle, 1),
        "rss_peak_mib": round(peak, 1),
        "rss_growth_mib": round(peak - idle, 1),
        "rss_after_mib": round(after, 1),
        "target_growth_mib": TARGET_GROWTH_MIB,
        "within_target": peak - idle <= TARGET_GROWTH_MIB,
        "server_still_up": still_up,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=4, help="parallel posts")
    parser.add_argument("--size-mb", type=float, default=150.0, help="size of each post, MB")
    parser.add_argument(
        "--max-body-bytes", type=int, default=None, help="HELPLINE_MAX_BODY_BYTES for the run"
    )
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        sys.exit("bench/body_limit.py reads memory from /proc: Linux only")
    result = run(args.posts, args.size_mb, args.max_body_bytes)
    print_result(result)
    sys.exit(0 if result["within_target"] and result["server_still_up"] else 1)


if __name__ == "__main__":
    main()
