"""The floor: what one message cannot avoid costing, measured with the project's own code.

    .venv/bin/python -m bench.floor [-n 300] [--warmup 30] \
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

In one process, on a fresh migrated database (a SQLite file, or a PostgreSQL database
made next to ``--database-url`` and dropped after) and the fake Twilio API on
127.0.0.1, each of N WhatsApp messages (each from another person) goes through the
steps no design can skip, one after the other, each timed (wall clock and the
calling thread's CPU time):

1. ``parse``: the form body (``parse_qsl``, as the webhook does) and
   ``bot.channels.whatsapp.parse_inbound``;
2. ``verify``: ``signature_is_valid`` (twilio's ``RequestValidator``) on the signed form;
3. ``encrypt``: ``bot.privacy.addresses.encrypt_address``;
4. ``insert``: one INSERT of the inbound message row, in its own committed transaction;
5. ``match``: ``get_matcher(settings).match`` (the matcher as configured);
6. ``flow``: one step of ``FlowEngine.handle`` (the real flows, knowledge base and
   opening hours; given the match of step 5, so that the matcher is not counted twice);
7. ``send``: the flow's reply through the real ``WhatsAppChannel`` (twilio's client
   over httpx) to the fake provider;
8. ``status``: one UPDATE of the message's status, in its own committed transaction.

The person's contact and conversation are made before each message, untimed (the
issue's floor is one insert); the flow's own reads and the flush of its reply row
are in ``flow`` (rolled back afterwards: the reply's durability is the ``status``
write's). For comparison only, ``store_today`` times today's ``inbox.receive`` (the
webhook's store: contact, conversation, message, in a committed transaction) for
another new person per message; it is not part of the floor.

The floor per core is 1 / (sum of the per-step CPU medians): a core busy with
nothing else finishes that many messages a second. CPU time, not wall time, because
waiting (for the provider's answer, for fsync, for the PostgreSQL server) overlaps
with other messages' work when many are in flight; the provider's and PostgreSQL's
own CPU are not counted (they are not the service's). The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import Engine, insert, update
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from bot import db, inbox
from bot.channels import whatsapp
from bot.config import Settings
from bot.conversations import get_or_create_contact, open_conversation
from bot.dialogue.engine import FlowEngine, Turn, get_flow_engine
from bot.messages import Button, Inbound, Outbound
from bot.models import Contact, Conversation, Direction, Message, MessageStatus, Sender
from bot.nlu import Match, Matcher, get_matcher
from bot.privacy.addresses import encrypt_address
from tests.support.fakes.twilio_api import FakeTwilioAPI

STEPS = ("parse", "verify", "encrypt", "insert", "match", "flow", "send", "status")
EXTRA = ("store_today",)
PUBLIC_URL = "http://127.0.0.1:8000"
WEBHOOK_PATH = "/webhooks/whatsapp"
SECRET_KEY = "bench-floor-secret-key"
# Monday 10:00 in Brussels: open, so the flows answer as in office hours.
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TEXTS = [
    "Hoe vraag ik asiel aan in België?",
    "Comment demander l'asile en Belgique ?",
    "When is my interview at the CGRS?",
    "Чи можу я отримати тимчасовий захист?",
    "زه څنګه په بلجیم کې پناه غوښتنه وکړم؟",
    "چطور می‌توانم در بلژیک درخواست پناهندگی بدهم؟",
    "hello",
    "Ik heb geen opvangplaats, waar kan ik slapen?",
]

T = TypeVar("T")


class Given:
    """A matcher that answers with the match already computed (step ``match``)."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.known: dict[tuple[str, str | None], Match] = {}

    def match(self, text: str, lang: str | None = None) -> Match:
        found = self.known.get((text, lang))
        return found if found is not None else self.matcher.match(text, lang)


class Timer:
    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {name: [] for name in STEPS + EXTRA}
        self.cpu: dict[str, list[float]] = {name: [] for name in STEPS + EXTRA}
        self.recording = False

    def time(self, name: str, work: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.thread_time()
        result = work()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        if self.recording:
            self.wall[name].append(wall)
            self.cpu[name].append(cpu)
        return result


def signed_form(settings: Settings, i: int) -> tuple[bytes, str]:
    """A WhatsApp webhook body as Twilio sends it, and its signature."""
    sid = f"SM{i:032x}"
    form = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": settings.twilio_account_sid,
        "From": f"whatsapp:+3248{i:07d}",
        "To": settings.twilio_whatsapp_from,
        "Body": TEXTS[i % len(TEXTS)],
        "NumMedia": "0",
        "ProfileName": "bench",
        "WaId": f"3248{i:07d}",
    }
    validator = RequestValidator(settings.twilio_auth_token)
    signature = validator.compute_signature(settings.public_url + WEBHOOK_PATH, form)
    return urlencode(form).encode(), signature


def person(engine: Engine, settings: Settings, address: str, now: datetime) -> tuple[int, int]:
    """The person's contact and open conversation (untimed set-up): their ids."""
    with db.session_scope(engine) as session:
        contact = get_or_create_contact(session, settings, whatsapp.KIND, address)
        contact.last_inbound_at = now  # inside WhatsApp's reply window
        session.add(contact)
        conversation = open_conversation(session, contact, now=now)
        session.flush()
        assert contact.id is not None and conversation.id is not None
        return contact.id, conversation.id


def one_message(
    i: int,
    engine: Engine,
    settings: Settings,
    flows: FlowEngine,
    given: Given,
    channel: whatsapp.WhatsAppChannel,
    loop: asyncio.AbstractEventLoop,
    timer: Timer,
) -> None:
    now = NOW + timedelta(seconds=i)
    body, signature = signed_form(settings, i)
    url = settings.public_url + WEBHOOK_PATH

    def parse() -> Inbound:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        parsed.update(form)
        return whatsapp.parse_inbound(form, received_at=now)

    parsed: dict[str, str] = {}
    inbound = timer.time("parse", parse)
    assert timer.time(
        "verify", lambda: whatsapp.signature_is_valid(settings, url, parsed, signature)
    )
    timer.time("encrypt", lambda: encrypt_address(settings, inbound.address))
    contact_id, conversation_id = person(engine, settings, inbound.address, now)

    def store() -> int:
        with engine.begin() as conn:
            result = conn.execute(
                insert(Message).values(
                    conversation_id=conversation_id,
                    channel=inbound.channel,
                    direction=Direction.inbound,
                    sender=Sender.user,
                    text=inbound.text,
                    provider_message_id=inbound.provider_message_id,
                    status=MessageStatus.received,
                    created_at=now,
                    attempts=0,
                )
            )
            return int(result.inserted_primary_key[0])

    message_id = timer.time("insert", store)
    text = inbound.text or ""
    match = timer.time("match", lambda: given.matcher.match(text, None))
    given.known = {(text, None): match}

    with Session(engine) as session:
        conversation = session.get_one(Conversation, conversation_id)
        contact = session.get_one(Contact, contact_id)
        timer.time(
            "flow",
            lambda: flows.handle(session, conversation, contact, Turn(text=text), now=now),
        )
        replies = session.exec(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .where(Message.direction == Direction.outbound)
            .order_by(col(Message.id))
        ).all()
        reply = replies[-1]
        outbound = Outbound(
            address=inbound.address,
            text=reply.text or "",
            buttons=[Button(b["payload"], b["title"]) for b in reply.buttons or []],
        )
        session.rollback()

    provider_id = timer.time("send", lambda: loop.run_until_complete(channel.send(outbound)))

    def record() -> None:
        with engine.begin() as conn:
            conn.execute(
                update(Message)
                .where(col(Message.id) == message_id)
                .values(
                    status=MessageStatus.handled,
                    topic=match.topic,
                    score=match.score,
                    language=match.lang,
                    sent_at=now,
                )
            )

    timer.time("status", record)
    assert provider_id

    today = Inbound(
        channel=inbound.channel,
        address=f"whatsapp:+3249{i:07d}",
        provider_message_id=f"today-{i}",
        text=inbound.text,
        button=None,
        media_type=None,
        media_ref=None,
        received_at=now,
    )
    assert timer.time("store_today", lambda: inbox.receive(engine, settings, today))


def measure(engine: Engine, settings: Settings, n: int, warmup: int) -> dict[str, Any]:
    """Time the steps over ``n`` messages after ``warmup`` untimed ones; the figures."""
    matcher = get_matcher(settings)
    given = Given(matcher)
    flows = get_flow_engine(settings, given)
    channel = whatsapp.WhatsAppChannel(settings)
    loop = asyncio.new_event_loop()
    timer = Timer()
    try:
        for i in range(warmup + n):
            timer.recording = i >= warmup
            one_message(i, engine, settings, flows, given, channel, loop, timer)
    finally:
        loop.run_until_complete(channel.aclose())
        loop.close()
    return figures(timer, n, warmup)


def figures(timer: Timer, n: int, warmup: int) -> dict[str, Any]:
    ms = lambda values: round(1000 * statistics.median(values), 3)  # noqa: E731
    steps = {
        name: {"wall_ms": ms(timer.wall[name]), "cpu_ms": ms(timer.cpu[name])} for name in STEPS
    }
    cpu = sum(statistics.median(timer.cpu[name]) for name in STEPS)
    wall = sum(statistics.median(timer.wall[name]) for name in STEPS)
    today = timer.cpu["store_today"]
    return {
        "messages": n,
        "warmup": warmup,
        "steps": steps,
        "sum_cpu_ms": round(1000 * cpu, 3),
        "sum_wall_ms": round(1000 * wall, 3),
        "floor_messages_per_s": round(1 / cpu, 1),
        "floor_wall_serial_messages_per_s": round(1 / wall, 1),
        "store_today_wall_ms": ms(timer.wall["store_today"]),
        "store_today_cpu_ms": ms(today),
    }


@contextmanager
def floor_setup(database_url: str | None) -> Iterator[tuple[Engine, Settings, str]]:
    """A fresh database, the fake Twilio API and settings pointing at both."""
    from bench.sigkill import fresh_database  # bench.sigkill imports bench.load

    with fresh_database(database_url) as url, FakeTwilioAPI() as twilio:
        settings = Settings(
            database_url=url,
            secret_key=SECRET_KEY,
            public_url=PUBLIC_URL,
            run_worker=False,
            demo=False,
        )
        twilio.configure(settings)
        engine = db.make_engine(url)
        try:
            yield engine, settings, "postgresql" if url.startswith("postgres") else "sqlite"
        finally:
            engine.dispose()


def run(database_url: str | None, n: int = 300, warmup: int = 30) -> dict[str, Any]:
    with floor_setup(database_url) as (engine, settings, kind):
        result = measure(engine, settings, n, warmup)
    return {"database": kind, **result}


def print_result(result: dict[str, Any]) -> None:
    print(f"{'step':<10} {'wall ms':>9} {'cpu ms':>9}")
    for name, step in result["steps"].items():
        print(f"{name:<10} {step['wall_ms']:>9.3f} {step['cpu_ms']:>9.3f}")
    print(f"{'sum':<10} {result['sum_wall_ms']:>9.3f} {result['sum_cpu_ms']:>9.3f}")
    for key, value in result.items():
        if key != "steps":
            print(f"{key:<34} {value}")
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="messages timed")
    parser.add_argument("--warmup", type=int, default=30, help="messages first, untimed")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    args = parser.parse_args(argv)
    print_result(run(args.database_url, args.n, args.warmup))
    return 0


if __name__ == "__main__":
    sys.exit(main())
