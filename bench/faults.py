"""Provider faults: the fake Telegram and Twilio APIs fail a share of the sends.

    .venv/bin/python -m bench.faults [-n 200] [--fraction 0.4] [--fault-seconds 20] \\
        [--retry-after 3] [--database-url postgresql://postgres@127.0.0.1:5432/test]

Starts the fakes and ``helpline serve`` (worker inside, provider timeout 2 s) on a
fresh database. While the faults are on, each send to a fake fails with
probability ``--fraction``, in one of four ways, before the provider accepts it:
500, 429 with ``Retry-After: --retry-after``, a hang (no answer; the client times
out) or a closed connection; Twilio also, a fifth way, accepts the message and
then closes the connection before answering (the answer is lost: the outbox must
ask Twilio rather than send it again; the Telegram Bot API cannot be asked, see
``bot/outbox.py``, so Telegram is spared that one). N people per channel write
(``bench.load``); after ``--fault-seconds`` the faults stop and hanging requests are
let go. Then, once
everything is answered, it reports:

- faults injected, by kind and provider, and requests the fakes saw;
- every reply delivered exactly once: counted at the fakes by message id
  (``bench.sigkill.deliveries``): lost (never sent) and duplicated must be 0;
- the delay between a failed attempt and the next attempt of the same message,
  per kind of fault (min / median / max), and how many retries after a 429 came
  sooner than its Retry-After (must be 0).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections import Counter, defaultdict
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
    send_until,
    stored_inbound,
    wait_for_drain,
)
from tests.support.fakes.server import FakeServer, Fault, Recorded


def attempts_by_message(fake: FakeServer, channel: str) -> dict[tuple[str, ...], list[Any]]:
    """The send attempts the fake saw, per (channel, recipient, text), in order."""
    attempts: dict[tuple[str, ...], list[Any]] = defaultdict(list)
    with fake._lock:
        for request in fake.requests:
            if not is_send(request):
                continue
            params = request.params
            if channel == "telegram":
                key = (channel, params.get("chat_id", ""), params.get("text", ""))
            else:
                body = params.get("Body") or params.get("ContentSid", "")
                key = (channel, params.get("To", ""), body)
            attempts[key].append(request)
    for requests in attempts.values():
        requests.sort(key=lambda r: getattr(r, "at", 0.0))
    return attempts


def is_send(recorded: Recorded) -> bool:
    """A request that delivers a message (the only ones the fakes fail)."""
    return recorded.path.endswith("/sendMessage") or (
        recorded.method == "POST" and recorded.path.endswith("/Messages.json")
    )


def retry_delays(
    attempts: dict[tuple[str, ...], list[Any]],
) -> dict[str, list[float]]:
    """Seconds from a failed attempt to the next attempt of the same message, per fault."""
    delays: dict[str, list[float]] = defaultdict(list)
    for requests in attempts.values():
        for failed, retried in itertools.pairwise(requests):
            if failed.fault is not None:
                delays[failed.fault.kind].append(retried.at - failed.at)
    return delays


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"n={len(values)} min={min(values):.2f}s median={statistics.median(values):.2f}s "
        f"max={max(values):.2f}s"
    )


def run(
    n: int,
    fraction: float,
    fault_seconds: float,
    retry_after: float,
    database_url: str | None,
    seed: int = 7,
) -> dict[str, Any]:
    faults = [
        Fault.error(500),
        Fault.rate_limit(retry_after),
        Fault.hang(),
        Fault.close(),
    ]
    with (
        fresh_database(database_url) as url,
        TimedTelegram() as telegram,
        TimedTwilio() as twilio,
    ):
        port = load.free_port()
        env = helpline_env(
            url,
            port,
            telegram,
            twilio,
            provider_timeout_seconds="2",
            outbox_backoff_max_seconds="30",
        )
        telegram.fail_randomly(fraction, faults, seed=seed)
        twilio.fail_randomly(fraction, [*faults, Fault.accept_then_close()], seed=seed + 1)
        requests = load.build_requests(n, f"http://127.0.0.1:{port}", twilio.auth_token, 0.0)
        server = Server(port, env).start()
        engine = make_engine(url)
        try:
            started = time.monotonic()
            send_until(port, requests, 20)
            time.sleep(max(0.0, fault_seconds - (time.monotonic() - started)))
            during = backlog(engine)
            telegram.clear_faults()
            twilio.clear_faults()
            telegram.release_hangs()
            twilio.release_hangs()
            faults_stopped = time.monotonic()
            acknowledged = {(r.channel, r.provider_id) for r in requests if 200 <= r.status < 300}
            drained, _ = wait_for_drain(engine, len(acknowledged), 300.0)
            drained_after = time.monotonic() - faults_stopped
        finally:
            server.stop()
        stored = stored_inbound(engine)
        outbound = deliveries(engine, bench_settings(url), telegram, twilio)
        final = backlog(engine)
        engine.dispose()
        attempts = {
            **attempts_by_message(telegram, "telegram"),
            **attempts_by_message(twilio, "whatsapp"),
        }
        injected = Counter(
            f"{name}:{r.fault.kind}"
            for name, fake in (("telegram", telegram), ("twilio", twilio))
            for r in fake.requests
            if r.fault is not None
        )
        send_attempts = sum(len(a) for a in attempts.values())
    delays = retry_delays(attempts)
    early = [d for d in delays.get("rate_limit", []) if d < retry_after]
    return {
        "messages": len(requests),
        "acknowledged_2xx": len(acknowledged),
        "fault_fraction": fraction,
        "fault_seconds": fault_seconds,
        "send_attempts_at_fakes": send_attempts,
        "faults_injected": sum(injected.values()),
        "faults_by_kind": dict(sorted(injected.items())),
        "unsent_when_faults_stopped": during.outbound_pending,
        "outbound_stored": outbound.stored,
        "outbound_sent": outbound.sent,
        "lost_outbound": outbound.not_sent + outbound.recorded_but_never_accepted,
        "outbound_failed": final.outbound_failed,
        "duplicated_deliveries": outbound.duplicates + outbound.unexplained_sends,
        "lost_inbound": len([k for k in acknowledged if k not in stored]),
        "duplicated_inbound": sum(c - 1 for c in stored.values() if c > 1),
        "retry_after_s": retry_after,
        "delay_after_429": summary(delays.get("rate_limit", [])),
        "retries_sooner_than_retry_after": len(early),
        "delay_after_500": summary(delays.get("error", [])),
        "delay_after_hang": summary(delays.get("hang", [])),
        "delay_after_close": summary(delays.get("close", [])),
        "twilio_answers_lost_after_accepting": injected["twilio:accept_then_close"],
        "twilio_lookups": len(twilio.lookups()),
        "drained": drained,
        "all_sent_after_faults_stopped_s": round(drained_after, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="messages per channel")
    parser.add_argument("--fraction", type=float, default=0.4, help="share of sends that fail")
    parser.add_argument("--fault-seconds", type=float, default=20.0)
    parser.add_argument("--retry-after", type=float, default=3.0)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    args = parser.parse_args()
    result = run(args.n, args.fraction, args.fault_seconds, args.retry_after, args.database_url)
    print_result(result)
    bad = (
        result["lost_outbound"]
        or result["duplicated_deliveries"]
        or result["lost_inbound"]
        or result["duplicated_inbound"]
        or result["retries_sooner_than_retry_after"]
        or not result["drained"]
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
