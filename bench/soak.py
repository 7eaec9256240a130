"""Soak: a steady rate of webhooks against ``helpline serve`` for a long time.

    .venv/bin/python -m bench.soak [--rate 10] [--duration 600] [--sample 10] \\
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

Starts the fake providers and ``helpline serve`` (worker inside) on a fresh
database, then sends ``--rate`` messages a second (half WhatsApp, half Telegram,
signed by ``bench.load.build_requests``, each from a new person, as on a busy day)
for ``--duration`` seconds. Every ``--sample`` seconds it notes the server's
resident memory (VmRSS of its process) and the backlog: inbound messages stored
but not yet answered, outbound messages not yet sent, conversations waiting for
staff. At the end it waits for the backlog to drain and reports start, end and
maximum memory and backlog, the memory growth over the second half of the run
(end minus start, and the slope of a line fitted through its samples),
and, as ``bench.sigkill`` does, lost and duplicated messages.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import load
from bench.sigkill import (
    Server,
    TimedTelegram,
    TimedTwilio,
    backlog,
    bench_settings,
    deliveries,
    fresh_database,
    helpline_env,
    make_engine,
    print_result,
    stored_inbound,
    wait_for_drain,
)


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Sample:
    at: float  # seconds since the load started
    sent: int  # requests sent so far
    rss_mib: float
    inbound_waiting: int
    outbound_pending: int
    handoff_queue: int


def slope_per_minute(samples: list[Sample]) -> float:
    """Memory growth in MiB a minute, a least-squares line through the samples: one
    sample taken during a burst moves it less than it moves end minus start."""
    if len(samples) < 2:
        return float("nan")
    mean_at = sum(s.at for s in samples) / len(samples)
    mean_rss = sum(s.rss_mib for s in samples) / len(samples)
    spread = sum((s.at - mean_at) ** 2 for s in samples)
    if not spread:
        return float("nan")
    covariance = sum((s.at - mean_at) * (s.rss_mib - mean_rss) for s in samples)
    return covariance / spread * 60


async def steady_load(
    port: int, requests: list[load.Request], rate: float, duration: float
) -> tuple[int, float]:
    """``rate`` requests a second for ``duration`` seconds; (sent, worst lag in s)."""
    started = time.monotonic()
    sent = 0
    worst_lag = 0.0
    second = 0
    while second < duration and sent < len(requests):
        due = int(rate * (second + 1))
        batch = requests[sent:due]
        await load.run_load(port, batch, max(1, min(len(batch), 8)))
        sent += len(batch)
        second += 1
        lag = time.monotonic() - (started + second)
        worst_lag = max(worst_lag, lag)
        if lag < 0:
            await asyncio.sleep(-lag)
    return sent, worst_lag


def run(rate: float, duration: float, every: float, database_url: str | None) -> dict[str, Any]:
    with (
        fresh_database(database_url) as url,
        TimedTelegram() as telegram,
        TimedTwilio() as twilio,
    ):
        port = load.free_port()
        per_channel = int(rate * duration / 2) + 1
        requests = load.build_requests(
            per_channel, f"http://127.0.0.1:{port}", twilio.auth_token, 0.0
        )
        server = Server(port, helpline_env(url, port, telegram, twilio))
        engine = make_engine(url)
        samples: list[Sample] = []
        outcome: dict[str, Any] = {}
        try:
            server.start()  # inside the try: a server that never came up is stopped too

            def send() -> None:
                outcome["sent"], outcome["lag"] = asyncio.run(
                    steady_load(port, requests, rate, duration)
                )

            sender = threading.Thread(target=send, daemon=True)
            started = time.monotonic()
            sender.start()
            while sender.is_alive():
                sender.join(timeout=every)
                now = backlog(engine)
                samples.append(
                    Sample(
                        at=round(time.monotonic() - started, 1),
                        sent=sum(1 for r in requests if r.status),
                        rss_mib=round(rss_mib(server.pid), 1),
                        inbound_waiting=now.inbound_waiting,
                        outbound_pending=now.outbound_pending,
                        handoff_queue=now.handoff_queue,
                    )
                )
                last = samples[-1]
                print(
                    f"t={last.at:>6}s sent={last.sent:>6} rss={last.rss_mib:>7} MiB "
                    f"inbound_waiting={last.inbound_waiting:>4} "
                    f"outbound_pending={last.outbound_pending:>4} "
                    f"handoff_queue={last.handoff_queue}",
                    flush=True,
                )
            sent_requests = [r for r in requests if r.status]
            acknowledged = {
                (r.channel, r.provider_id) for r in sent_requests if 200 <= r.status < 300
            }
            drained, drain_seconds = wait_for_drain(engine, len(acknowledged), 120.0)
            rss_after_drain = rss_mib(server.pid)
        finally:
            server.stop()
        stored = stored_inbound(engine)
        outbound = deliveries(engine, bench_settings(url), telegram, twilio)
        engine.dispose()
    half = [s for s in samples if s.at >= samples[-1].at / 2]
    rss = [s.rss_mib for s in samples]
    return {
        "rate_per_s": rate,
        "duration_s": duration,
        "requests_sent": len(sent_requests),
        "acknowledged_2xx": len(acknowledged),
        "worst_lag_behind_schedule_s": round(outcome.get("lag", float("nan")), 2),
        "samples": len(samples),
        "rss_start_mib": rss[0],
        "rss_end_mib": rss[-1],
        "rss_max_mib": max(rss),
        "rss_after_drain_mib": round(rss_after_drain, 1),
        "rss_growth_second_half_mib": round(half[-1].rss_mib - half[0].rss_mib, 1),
        "rss_slope_second_half_mib_per_min": round(slope_per_minute(half), 2),
        "inbound_waiting_start_end_max": (
            samples[0].inbound_waiting,
            samples[-1].inbound_waiting,
            max(s.inbound_waiting for s in samples),
        ),
        "outbound_pending_start_end_max": (
            samples[0].outbound_pending,
            samples[-1].outbound_pending,
            max(s.outbound_pending for s in samples),
        ),
        "handoff_queue_end": samples[-1].handoff_queue,
        "drained": drained,
        "drain_seconds": round(drain_seconds, 1),
        "lost_inbound": len([k for k in acknowledged if k not in stored]),
        "duplicated_inbound": sum(c - 1 for c in stored.values() if c > 1),
        "outbound_stored": outbound.stored,
        "outbound_not_sent": outbound.not_sent,
        "duplicated_deliveries": outbound.duplicates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    args = parser.parse_args()
    result = run(args.rate, args.duration, args.sample, args.database_url)
    print_result(result)
    bad = (
        result["lost_inbound"]
        or result["duplicated_inbound"]
        or result["outbound_not_sent"]
        or result["duplicated_deliveries"]
        or not result["drained"]
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
