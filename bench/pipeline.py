"""Where a message's time goes: the pipeline's stages, each counted and profiled.

    .venv/bin/python -m bench.pipeline [-n 400] [--batch 50] [--top 12] \
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

In one process, on a fresh migrated database and the fake Twilio API (as
``bench.floor``), N WhatsApp messages, each from a new person, go through the
service's own code stage by stage, one stage for all of them before the next:

1. ``store``: what the webhooks do, ``InboundWriter``'s write of a batch of
   ``--batch`` messages (one transaction per batch);
2. ``answer``: the inbox job, ``inbox.process_due``, until nothing is due;
3. ``claim``: ``outbox.claim_due``, until nothing is due (the sends of step 4 run
   between claims, as the outbox job does);
4. ``send``: the replies through the real ``WhatsAppChannel`` to the fake;
5. ``record``: ``outbox.record_outcomes`` for each claimed batch.

For each stage: CPU milliseconds per message (the process's, but for ``send``, whose
is the calling thread's: the fake provider runs in a thread of this process), SQL
statements and commits per message (SQLAlchemy engine events), and the project's
functions with the most cumulative time under cProfile (which sees the calling
thread only: on PostgreSQL the inbox's answering threads are missing from
``answer``'s list). cProfile roughly doubles the CPU figures: ``--top 0`` measures
without it. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event

from bench.floor import NOW, TEXTS, floor_setup
from bot import inbox, outbox
from bot.channels import whatsapp
from bot.config import Settings
from bot.messages import Inbound
from bot.nlu import get_matcher

STAGES = ("store", "answer", "claim", "send", "record")


class Counter:
    """SQL statements and commits on an engine, by stage."""

    def __init__(self, engine: Engine) -> None:
        self.stage = ""
        self.statements: dict[str, int] = dict.fromkeys(STAGES, 0)
        self.commits: dict[str, int] = dict.fromkeys(STAGES, 0)
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_args: Any) -> None:
        if self.stage:
            self.statements[self.stage] += 1

    def _commit(self, *_args: Any) -> None:
        if self.stage:
            self.commits[self.stage] += 1


class Stages:
    def __init__(self, counter: Counter, profile: bool) -> None:
        self.counter = counter
        self.profile = profile
        self.cpu: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.profiles: dict[str, cProfile.Profile] = {name: cProfile.Profile() for name in STAGES}

    def run(self, stage: str, work: Callable[[], Any]) -> Any:
        self.counter.stage = stage
        profile = self.profiles[stage]
        # The sends' CPU is this thread's (the fake provider runs in another thread of
        # this process); the other stages' is the whole process's, since on PostgreSQL
        # the inbox answers in several threads.
        clock = time.thread_time if stage == "send" else time.process_time
        cpu = clock()
        if self.profile:
            profile.enable()
        try:
            return work()
        finally:
            if self.profile:
                profile.disable()
            self.cpu[stage] += clock() - cpu
            self.counter.stage = ""


def inbound(settings: Settings, i: int) -> Inbound:
    return Inbound(
        channel=whatsapp.KIND,
        address=f"whatsapp:+3248{i:07d}",
        provider_message_id=f"SM{i:032x}",
        text=TEXTS[i % len(TEXTS)],
        button=None,
        media_type=None,
        media_ref=None,
        received_at=NOW + timedelta(milliseconds=i),
    )


def measure(engine: Engine, settings: Settings, n: int, batch: int, profile: bool) -> Stages:
    get_matcher(settings)  # loaded before timing: the service loads it once
    counter = Counter(engine)
    stages = Stages(counter, profile)
    writer = inbox.InboundWriter(engine, settings)
    messages = [inbound(settings, i) for i in range(n)]
    for start in range(0, n, batch):
        stages.run("store", lambda start=start: writer._write(messages[start : start + batch]))
    now = NOW + timedelta(seconds=10)
    while stages.run("answer", lambda: inbox.process_due(engine, settings, now=now)):
        pass
    channel = whatsapp.WhatsAppChannel(settings)
    loop = asyncio.new_event_loop()
    try:
        while True:
            claims = stages.run(
                "claim", lambda: outbox.claim_due(engine, settings, ["whatsapp"], now=now)
            )
            if not claims:
                break

            async def send_all(claims: list[outbox.Claim] = claims) -> list[outbox.SendOutcome]:
                ids = await asyncio.gather(*(channel.send(c.outbound) for c in claims))
                return [outbox.SendOutcome(c, now, i) for c, i in zip(claims, ids, strict=True)]

            outcomes = stages.run("send", lambda: loop.run_until_complete(send_all()))
            stages.run(
                "record",
                lambda outcomes=outcomes: outbox.record_outcomes(engine, settings, outcomes),
            )
    finally:
        loop.run_until_complete(channel.aclose())
        loop.close()
    return stages


def top(profile: cProfile.Profile, count: int) -> list[tuple[str, float]]:
    """The project's functions with the most cumulative time."""
    if count <= 0:
        return []
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for (path, line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "/bot/" not in path:
            continue
        short = path.split("/bot/", 1)[1]
        rows.append((f"bot/{short}:{line} {name}", cumulative))
    rows.sort(key=lambda row: -row[1])
    return [(name, round(seconds, 3)) for name, seconds in rows[:count]]


def run(database_url: str | None, n: int, batch: int, count: int) -> dict[str, Any]:
    with floor_setup(database_url) as (engine, settings, kind):
        stages = measure(engine, settings, n, batch, profile=count > 0)
    counter = stages.counter
    return {
        "database": kind,
        "messages": n,
        "store_batch": batch,
        "stages": {
            name: {
                "cpu_ms_per_message": round(1000 * stages.cpu[name] / n, 3),
                "statements_per_message": round(counter.statements[name] / n, 2),
                "commits_per_message": round(counter.commits[name] / n, 3),
                "top": top(stages.profiles[name], count),
            }
            for name in STAGES
        },
        "cpu_ms_per_message": round(1000 * sum(stages.cpu.values()) / n, 3),
        "statements_per_message": round(sum(counter.statements.values()) / n, 2),
        "commits_per_message": round(sum(counter.commits.values()) / n, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=400, help="messages, each from a new person")
    parser.add_argument("--batch", type=int, default=50, help="messages per webhook batch")
    parser.add_argument(
        "--top", type=int, default=12, help="functions listed per stage (0: no cProfile)"
    )
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    args = parser.parse_args(argv)
    result = run(args.database_url, args.n, args.batch, args.top)
    for name, stage in result["stages"].items():
        print(
            f"{name:<7} cpu {stage['cpu_ms_per_message']:>7.3f} ms/msg  "
            f"statements {stage['statements_per_message']:>6.2f}/msg  "
            f"commits {stage['commits_per_message']:>6.3f}/msg"
        )
        for function, seconds in stage["top"]:
            print(f"    {seconds:>8.3f} s  {function}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
