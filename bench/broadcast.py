"""A broadcast to 10,000 people while others write, with provider faults.

    .venv/bin/python -m bench.broadcast [-n 10000] [--telegram-share 0.3] \\
        [--rates whatsapp=80,telegram=30] [--faults 0.02] [--writers-per-second 2] \\
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

On a fresh database, N people who wrote before (six languages; on Telegram and
WhatsApp, a tenth of the WhatsApp ones outside the 24-hour window, who get the
template) are stored, a broadcast to all of them is created, and the worker runs in
this process (every job, the broadcast job included) against the fake Telegram and
Twilio APIs, through the real python-telegram-bot and twilio clients. The fakes fail
``--faults`` of the sends with a 500, 502 or 503, and twice answer a burst of 429s
(after 20 % and 60 % of the sends). While it runs, people who wrote write again: each
gets a reply queued in the outbox the way the bot queues one, and its latency is the
time from queueing to the fake provider accepting it.

It reports: broadcast messages per second (first to last acceptance at the fakes) per
channel and overall, the reply latency p50 / p95 / max, and, counted at the fakes, lost
(someone in the audience who got nothing) and duplicated (anyone who got it twice):
both must be 0 (it exits 1 otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from bench.sigkill import bench_settings, fresh_database, make_engine
from bot import outbox, worker
from bot.broadcasts.audience import Audience
from bot.broadcasts.sending import create
from bot.channels import build_channels
from bot.config import LANGUAGES, Settings
from bot.db import session_scope
from bot.models import Contact, Conversation, utcnow
from tests.broadcasts.people import Person, add_people
from tests.support.fakes.server import Fault
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI

TEXT = "The registration centre has moved (bench)."
TEMPLATES = {lang: f"HXbench{lang}" for lang in LANGUAGES}


def store_people(engine: Engine, settings: Settings, n: int, telegram_share: float) -> list[Person]:
    on_telegram = int(n * telegram_share)
    on_whatsapp = n - on_telegram
    outside = on_whatsapp // 10
    people: list[Person] = []
    for start in range(0, on_telegram, 2000):
        people += add_people(engine, settings, min(2000, on_telegram - start), start=start)
    for start in range(0, on_whatsapp - outside, 2000):
        count = min(2000, on_whatsapp - outside - start)
        people += add_people(engine, settings, count, channel="whatsapp", start=start)
    people += add_people(
        engine,
        settings,
        outside,
        channel="whatsapp",
        start=on_whatsapp - outside,
        last_wrote=timedelta(days=3),
    )
    return people


def broadcast_received(
    telegram: FakeTelegramAPI, twilio: FakeTwilioAPI
) -> Counter[tuple[str, str]]:
    """Per address and kind (the text, or the template that announces it outside WhatsApp's
    window; such a person gets the text too once they answer), what the fakes accepted."""
    with telegram._lock, twilio._lock:
        got = [(m.chat_id, "text") for m in telegram.sent if m.text.startswith(TEXT)]
        got += [(m.to, "text") for m in twilio.sent if (m.body or "").startswith(TEXT)]
        got += [(m.to, "template") for m in twilio.sent if m.content_sid in TEMPLATES.values()]
    return Counter(got)


def accept_times(telegram: FakeTelegramAPI, twilio: FakeTwilioAPI) -> dict[str, list[float]]:
    with telegram._lock, twilio._lock:
        return {
            "telegram": sorted(m.at for m in telegram.sent if m.text.startswith(TEXT)),
            "whatsapp": sorted(
                m.at
                for m in twilio.sent
                if (m.body or "").startswith(TEXT) or m.content_sid in TEMPLATES.values()
            ),
        }


def reply_accepted_at(telegram: FakeTelegramAPI, twilio: FakeTwilioAPI, text: str) -> float | None:
    with telegram._lock, twilio._lock:
        for m in telegram.sent:
            if m.text == text:
                return m.at
        for w in twilio.sent:
            if w.body == text:
                return w.at
    return None


def queue_reply(engine: Engine, settings: Settings, person: Person, text: str) -> None:
    """What the inbox and the bot do when someone writes: their window opens again (what
    waited for it goes out), and an answer is queued."""
    with session_scope(engine) as session:
        contact = session.get(Contact, person.contact_id)
        assert contact is not None
        contact.last_inbound_at = utcnow()
        outbox.release_held(session, person.contact_id)
        conversation = session.get(Conversation, person.conversation_id)
        assert conversation is not None
        outbox.enqueue(session, conversation, text, settings=settings, sender="bot")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    with (
        fresh_database(args.database_url) as url,
        FakeTelegramAPI() as telegram,
        FakeTwilioAPI() as twilio,
    ):
        settings = bench_settings(url)
        telegram.configure(settings)
        twilio.configure(settings)
        settings.outbox_rates = args.rates
        settings.broadcast_template_sids = dict(TEMPLATES)
        settings.provider_timeout_seconds = 5.0
        engine = make_engine(url)
        started = time.perf_counter()
        people = store_people(engine, settings, args.n, args.telegram_share)
        stored_seconds = time.perf_counter() - started
        with session_scope(engine) as session:
            _, counts = create(
                session,
                settings,
                staff_id=None,
                texts={lang: TEXT for lang in LANGUAGES},
                audience=Audience(),
            )
        faults = [Fault.error(500), Fault.error(502), Fault.error(503)]
        telegram.fail_randomly(args.faults, faults, seed=1)
        twilio.fail_randomly(args.faults, faults, seed=2)

        stop = asyncio.Event()
        replies: dict[str, float] = {}  # text -> when it was queued
        rng = random.Random(3)
        bursts = [0.2, 0.6]
        outcome: dict[str, Any] = {}

        async def main() -> None:
            channels = build_channels(settings)
            worker_task = asyncio.create_task(
                worker.run_worker(engine, settings, stop, channels=channels)
            )
            began = time.time()
            try:
                while True:
                    received = {a for a, _ in broadcast_received(telegram, twilio)}
                    done = len(received)
                    if bursts and done >= bursts[0] * len(people):
                        bursts.pop(0)
                        burst = [Fault.rate_limit(1)] * 5
                        telegram.fail_next(*burst)
                        twilio.fail_next(*burst)
                    if len(received) >= len(people):
                        break
                    if time.time() - began > args.timeout:
                        break
                    for _ in range(args.writers_per_second):
                        person = rng.choice(people)
                        text = f"Your answer {len(replies) + 1}"
                        await asyncio.to_thread(queue_reply, engine, settings, person, text)
                        replies[text] = time.time()
                    await asyncio.sleep(1.0)
                # let the last replies go out
                deadline = time.time() + 30
                while time.time() < deadline and any(
                    reply_accepted_at(telegram, twilio, t) is None for t in replies
                ):
                    await asyncio.sleep(0.2)
            finally:
                stop.set()
                await worker_task
                await channels.aclose()
            outcome["seconds"] = time.time() - began

        asyncio.run(main())
        received = broadcast_received(telegram, twilio)
        audience = {p.address for p in people}
        reached = {address for address, _ in received}
        times = accept_times(telegram, twilio)
        latencies = [
            accepted - queued
            for text, queued in replies.items()
            if (accepted := reply_accepted_at(telegram, twilio, text)) is not None
        ]
        per_channel = {
            channel: round((len(ts) - 1) / (ts[-1] - ts[0]), 1) if len(ts) > 1 else 0.0
            for channel, ts in times.items()
        }
        everything = sorted(times["telegram"] + times["whatsapp"])
        engine.dispose()
        return {
            "people": len(people),
            "targeted": counts["targeted"],
            "stored_people_seconds": round(stored_seconds, 1),
            "broadcast_seconds": round(outcome["seconds"], 1),
            "rates": args.rates,
            "messages_per_second": round(
                (len(everything) - 1) / (everything[-1] - everything[0]), 1
            )
            if len(everything) > 1
            else 0.0,
            "messages_per_second_by_channel": per_channel,
            "seconds_to_95_percent": round(
                everything[int(0.95 * (len(everything) - 1))] - everything[0], 1
            )
            if everything
            else None,
            "faults_injected": telegram.faults_injected + twilio.faults_injected,
            "replies": len(replies),
            "replies_not_sent": len(replies) - len(latencies),
            "reply_latency_seconds": {
                "p50": round(statistics.median(latencies), 2) if latencies else None,
                "p95": round(percentile(latencies, 0.95), 2) if latencies else None,
                "max": round(max(latencies), 2) if latencies else None,
            },
            "lost": len(audience - reached),
            "duplicated": sum(1 for n in received.values() if n > 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="people in the audience")
    parser.add_argument("--telegram-share", type=float, default=0.3)
    parser.add_argument("--rates", default="whatsapp=80,telegram=30")
    parser.add_argument("--faults", type=float, default=0.02, help="share of sends failing 5xx")
    parser.add_argument("--writers-per-second", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    if result["lost"] or result["duplicated"] or result["replies_not_sent"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
