"""Scale-out: several ``helpline serve`` instances on one PostgreSQL database.

    .venv/bin/python -m bench.scaleout [--instances 1,3] [-n 3000] [-c 30] \\
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

For each instance count it creates a fresh database on the PostgreSQL server of
``--database-url`` (dropped afterwards) and migrates it with several ``helpline db
upgrade`` processes started at once (the advisory lock in ``bot/migrations/env.py``
lets one migrate while the others wait). It starts fake Telegram and Twilio APIs in
this process and the instances as subprocesses on 127.0.0.1, each with the worker
inside and the same ``HELPLINE_PUBLIC_URL``, as behind a load balancer.

1. Load: ``-n`` signed webhooks (half WhatsApp, half Telegram; ``bench.load`` sends
   them) round-robin across the instances at ``-c`` connections in all. People write
   in bursts of ``--per-person`` quick messages, so one person's fragments reach
   different instances at the same moment; half of them wrote before (their old
   conversation is closed), so each burst must open exactly one new conversation.
   A share of the messages (``--twins``) is also sent to the next instance at the
   same point of the load. Throughput is measured here, then the bot is let finish.
2. Retries: a share (``--retries``) is sent again to another instance, as a provider
   retries when it thinks a webhook failed.
3. At once: a few new messages each sent to every instance at the same moment.
4. Live: a staff member logs in over HTTP on the first instance ("A") and opens her
   queue's event stream there; an urgent message arrives at the last instance ("C").

Any webhook answered other than 2xx is sent again to another instance, as the
providers would (and counted). Then it checks, from the database and from what the
fake providers accepted (by message id): every distinct message stored once, none
acknowledged and lost, every one handled by the bot, no person with two open
conversations, every reply accepted by the provider exactly once; that the
duplicates all got a 2xx; and that A's stream showed C's conversation while open.

Reported: accepted webhooks/s (2xx answers, duplicates included, over the wall time
of the load), distinct messages/s, and end-to-end replies/s (replies the providers
accepted from the start of the load to the last one). Exit status 1 when a check
fails. Traffic goes only to 127.0.0.1; counts and times are bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from bench import load
from bench.sigkill import (
    TimedTelegram,
    TimedTwilio,
    backlog,
    bench_settings,
    deliveries,
    helpline_env,
    last_message_ids,
    make_engine,
    stored_inbound,
)
from bot.config import Settings
from bot.console.accounts import create_staff
from bot.conversations import get_or_create_contact
from bot.db import head_revision, session_scope
from bot.models import Conversation, Direction, Message, MessageStatus, Owner, utcnow

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PUBLIC_URL = "http://helpline.localhost"  # the load balancer's address: never contacted
STAFF_EMAIL = "scaleout@example.org"
STAFF_PASSWORD = "scale-out-staff-password"
URGENT_TEXT = "Help, my husband is beating me and he has a knife"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HELPLINE = str(Path(load.PYTHON).parent / "helpline")
MAX_MESSAGES, MAX_INSTANCES = 20_000, 8

Sent = list[tuple[int, load.Request]]  # (instance, request) of every webhook sent


# --- the webhooks ----------------------------------------------------------------------


def address(person: int) -> tuple[str, str]:
    """(channel, address) of a person: even ones write on WhatsApp, odd ones on Telegram."""
    if person % 2 == 0:
        return "whatsapp", f"whatsapp:+3248{person:07d}"
    return "telegram", str(8_000_000_000 + person)


def webhook(person: int, seq: int, text: str, auth_token: str) -> load.Request:
    """Message ``seq`` of ``person``, signed as Twilio or Telegram would send it."""
    channel, where = address(person)
    if channel == "whatsapp":
        sid = f"SM{person:016x}{seq:016x}"
        form = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": where,
            "To": "whatsapp:+32470000000",
            "Body": text,
            "NumMedia": "0",
            "ProfileName": "scaleout",
            "WaId": where.removeprefix("whatsapp:+"),
        }
        path = "/webhooks/whatsapp"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": RequestValidator(auth_token).compute_signature(
                PUBLIC_URL + path, form
            ),
        }
        raw = load._raw(path, headers, urlencode(form).encode())
        return load.Request(channel=channel, provider_id=sid, raw=raw)
    update_id = 500_000_000 + person * 100 + seq
    chat = {"id": int(where), "type": "private", "first_name": "scaleout"}
    update = {
        "update_id": update_id,
        "message": {
            "message_id": seq + 1,
            "date": int(time.time()),
            "from": {"id": int(where), "is_bot": False, "first_name": "scaleout"},
            "chat": chat,
            "text": text,
        },
    }
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": load.WEBHOOK_SECRET,
    }
    raw = load._raw("/webhooks/telegram", headers, json.dumps(update).encode())
    return load.Request(channel=channel, provider_id=str(update_id), raw=raw)


def again(request: load.Request) -> load.Request:
    """The same webhook, to be sent once more."""
    return load.Request(channel=request.channel, provider_id=request.provider_id, raw=request.raw)


def key(request: load.Request) -> tuple[str, str]:
    return request.channel, request.provider_id


def acknowledged(sent: Sent) -> set[tuple[str, str]]:
    return {key(r) for _, r in sent if 200 <= r.status < 300}


def conversations(
    people: range, per_person: int, auth_token: str, limit: int | None = None
) -> list[load.Request]:
    """Each person's burst of quick messages, person after person (at most ``limit``)."""
    requests = []
    for person in people:
        for seq in range(per_person):
            if limit is not None and len(requests) >= limit:
                return requests
            _, text = load.QUESTIONS[(person + seq) % len(load.QUESTIONS)]
            requests.append(webhook(person, seq, text, auth_token))
    return requests


def round_robin(
    requests: list[load.Request], instances: int, twins: float, rng: random.Random
) -> list[list[load.Request]]:
    """Message k to instance k mod N; a twin of some to the next one, at the same point."""
    shares: list[list[load.Request]] = [[] for _ in range(instances)]
    for k, request in enumerate(requests):
        shares[k % instances].append(request)
        if rng.random() < twins:
            shares[(k + 1) % instances].append(again(request))
    return shares


async def send(ports: list[int], shares: list[list[load.Request]], concurrency: int) -> float:
    """Each instance its share, all instances at once; ``concurrency`` connections in all."""
    per_instance = max(1, concurrency // len(ports))
    started = time.perf_counter()
    await asyncio.gather(
        *(load.run_load(port, shares[i], per_instance) for i, port in enumerate(ports) if shares[i])
    )
    return time.perf_counter() - started


async def send_at_once(ports: list[int], groups: list[list[load.Request]]) -> None:
    """Every copy of every group on its own connection, all at the same moment."""
    await asyncio.gather(
        *(
            load.run_load(ports[i % len(ports)], [request], 1)
            for group in groups
            for i, request in enumerate(group)
        )
    )


def resend_refused(ports: list[int], sent: Sent, concurrency: int, rounds: int = 5) -> int:
    """Send each message that got no 2xx yet to another instance, as a provider retries."""
    resent = 0
    for _ in range(rounds):
        done = acknowledged(sent)
        todo = {key(r): (i, r) for i, r in sent if key(r) not in done}
        if not todo:
            break
        shares: list[list[load.Request]] = [[] for _ in ports]
        for instance, request in todo.values():
            retry = again(request)
            shares[(instance + 1) % len(ports)].append(retry)
            sent.append(((instance + 1) % len(ports), retry))
        resent += len(todo)
        time.sleep(1)
        asyncio.run(send(ports, shares, concurrency))
    return resent


# --- the database and the instances ----------------------------------------------------


@contextlib.contextmanager
def empty_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of ``server_url``; dropped after."""
    import psycopg

    admin = server_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"helpline_scaleout_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_at_once(env: dict[str, str], processes: int) -> list[int]:
    """``helpline db upgrade`` in several processes started together; their exit codes."""
    started = [
        subprocess.Popen(
            [HELPLINE, "db", "upgrade"],
            cwd=load.ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    codes = []
    for process in started:
        _, err = process.communicate(timeout=120)
        if process.returncode:
            sys.stderr.write(err.decode(errors="replace"))
        codes.append(process.returncode)
    return codes


def schema_revisions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]


@contextlib.contextmanager
def instances(count: int, env: dict[str, str]) -> Iterator[list[int]]:
    """``count`` ``helpline serve`` processes started together; their ports."""
    ports = [load.free_port() for _ in range(count)]
    processes = [load.serve_helpline(port, 1, env) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            load.wait_until_up(port, "/readyz", process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def seed_returning(engine: Engine, settings: Settings, people: list[int]) -> None:
    """These people wrote before: a contact with a closed conversation each, so their
    next burst has to open a new conversation (once, whichever instances it reaches)."""
    long_ago = utcnow() - timedelta(days=3)
    with session_scope(engine) as session:
        for person in people:
            channel, where = address(person)
            contact = get_or_create_contact(session, settings, channel, where)
            assert contact.id is not None
            conversation = Conversation(
                contact_id=contact.id,
                channel=channel,
                owner=Owner.closed,
                outcome="answered",
                opened_at=long_ago,
                last_message_at=long_ago,
                closed_at=long_ago,
            )
            session.add(conversation)
            session.flush()


def wait_until_answered(engine: Engine, expected: int, timeout: float) -> bool:
    """Every expected message stored and handled, the outbox empty (three looks in a row)."""
    deadline = time.monotonic() + timeout
    calm = 0
    while time.monotonic() < deadline:
        now = backlog(engine)
        calm = calm + 1 if now.drained and now.inbound >= expected else 0
        if calm >= 3:
            return True
        time.sleep(0.5)
    return False


@dataclass
class Integrity:
    unprocessed: int = 0  # inbound still "received": the bot never looked at it
    unanswered: int = 0  # bot-owned conversations whose last message got no reply
    contacts_with_two_open: int = 0  # one person, two conversations not closed


def integrity(engine: Engine) -> Integrity:
    with Session(engine) as session:
        unprocessed = session.exec(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == Direction.inbound, Message.status == MessageStatus.received)
        ).one()
        last_in = last_message_ids(session, Direction.inbound)
        last_out = last_message_ids(session, Direction.outbound)
        bot_owned = set(
            session.exec(select(Conversation.id).where(Conversation.owner == Owner.bot)).all()
        )
        doubled = session.exec(
            select(Conversation.contact_id)
            .where(Conversation.owner != Owner.closed)
            .group_by(col(Conversation.contact_id))
            .having(func.count() > 1)
        ).all()
    unanswered = sum(
        1 for cid, mid in last_in.items() if cid in bot_owned and last_out.get(cid, 0) < mid
    )
    return Integrity(int(unprocessed), unanswered, len(doubled))


# --- the console, live across instances ----------------------------------------------


@dataclass
class LiveCheck:
    seen: bool = False
    seconds: float | None = None  # from C's 2xx for the webhook to the event at A
    session_valid_everywhere: bool = False
    detail: str = ""


async def log_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/console/login")
    token = CSRF.search(page.text)
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    form = {"email": STAFF_EMAIL, "password": STAFF_PASSWORD, "csrf_token": token.group(1)}
    response = await client.post("/console/login", data=form)
    if response.status_code != 303:
        raise RuntimeError(f"login answered {response.status_code}")


async def server_sent_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    event, data = "", []
    async for line in response.aiter_lines():
        if line == "":
            if event:
                yield event, "\n".join(data)
            event, data = "", []
        elif line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))


def conversation_of(engine: Engine, request: load.Request) -> int | None:
    with Session(engine) as session:
        return session.exec(
            select(Message.conversation_id).where(
                Message.channel == request.channel,
                Message.provider_message_id == request.provider_id,
            )
        ).first()


async def live_update_across_instances(
    engine: Engine, ports: list[int], urgent: load.Request, timeout: float = 20.0
) -> LiveCheck:
    """A's queue stream, open before an urgent message reaches C, shows its conversation."""
    check = LiveCheck()
    a, c = ports[0], ports[-1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{a}", timeout=timeout + 10) as client:
        await log_in(client)
        # The session is a cookie signed with the shared secret: any instance accepts it.
        pages = [await client.get(f"http://127.0.0.1:{port}/console/queue") for port in ports]
        check.session_valid_everywhere = all(page.status_code == 200 for page in pages)
        async with client.stream("GET", "/console/queue/events") as response:
            if response.status_code != 200:
                check.detail = f"the stream answered {response.status_code}"
                return check
            events = server_sent_events(response)
            _, before = await anext(events)  # the queue as it was
            await load.run_load(c, [urgent], 1)
            arrived = time.monotonic()
            if not 200 <= urgent.status < 300:
                check.detail = f"instance C answered {urgent.status}"
                return check
            row = f'data-conversation="{conversation_of(engine, urgent)}"'
            if row in before:
                check.detail = "the conversation was in the queue before its message came"
                return check
            try:
                async with asyncio.timeout(timeout):
                    async for event, data in events:
                        if event == "queue" and row in data:
                            check.seen = True
                            check.seconds = time.monotonic() - arrived
                            return check
                check.detail = "the stream ended without it"
            except TimeoutError:
                check.detail = f"not shown within {timeout:g} s"
    return check


# --- one configuration -----------------------------------------------------------------


def run_config(
    count: int,
    messages: int,
    concurrency: int,
    server_url: str,
    *,
    per_person: int = 3,
    twins: float = 0.05,
    retries: float = 0.05,
    at_once: int = 20,
    returning: float = 0.5,
    drain_timeout: float = 300.0,
) -> dict[str, Any]:
    """One run with ``count`` instances: the numbers and checks of the module docstring."""
    started = time.monotonic()
    rng = random.Random(8)
    with (
        empty_database(server_url) as url,
        TimedTelegram() as telegram,
        TimedTwilio() as twilio,
    ):
        token = twilio.auth_token
        env = helpline_env(url, 0, telegram, twilio, public_url=PUBLIC_URL)
        migrations = migrate_at_once(env, max(count, 3))
        engine = make_engine(url)
        settings = bench_settings(url)
        with session_scope(engine) as session:
            create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, name="Scale-out")
        # The matcher and the flows load on first use: one person per instance first.
        warmup = conversations(range(count), 1, token)
        people = range(1000, 1000 + -(-messages // per_person))
        load_messages = conversations(people, per_person, token, limit=messages)
        came_back = rng.sample(list(people), int(len(people) * returning))
        seed_returning(engine, settings, came_back)
        shares = round_robin(load_messages, count, twins, rng)
        retried = [  # to another instance than the first time (message k went to k mod N)
            ((k + 1 + rng.randrange(max(1, count - 1))) % count, again(load_messages[k]))
            for k in sorted(rng.sample(range(len(load_messages)), int(messages * retries)))
        ]
        extra = conversations(range(500_000, 500_000 + at_once), 1, token)
        groups = [[r] + [again(r) for _ in range(max(count, 2) - 1)] for r in extra]
        urgent = webhook(900_001, 0, URGENT_TEXT, token)
        sent: Sent = []
        with instances(count, env) as ports:
            asyncio.run(send(ports, round_robin(warmup, count, 0, rng), count))
            sent += [(i % count, r) for i, r in enumerate(warmup)]
            resend_refused(ports, sent, count)
            wait_until_answered(engine, len(warmup), 120)
            replies_before = len(telegram.sent) + len(twilio.sent)

            # 1. the load (throughput)
            load_started = time.monotonic()
            load_seconds = asyncio.run(send(ports, shares, concurrency))
            during_load: Sent = [(i, r) for i, share in enumerate(shares) for r in share]
            sent += during_load
            refused_during_load = sum(1 for _, r in during_load if not 200 <= r.status < 300)
            resent = resend_refused(ports, sent, concurrency)
            expected = len(warmup) + len(load_messages)
            drained = wait_until_answered(engine, expected, drain_timeout)
            last_reply = max(
                [*telegram.accepted_at.values(), *twilio.accepted_at.values(), load_started]
            )
            replies = len(telegram.sent) + len(twilio.sent) - replies_before

            # 2. retries, 3. duplicates at once
            retry_shares: list[list[load.Request]] = [[] for _ in ports]
            for instance, request in retried:
                retry_shares[instance].append(request)
            asyncio.run(send(ports, retry_shares, concurrency))
            sent += retried
            asyncio.run(send_at_once(ports, groups))
            sent += [(i % count, r) for group in groups for i, r in enumerate(group)]
            resent += resend_refused(ports, sent, concurrency)
            expected += len(extra)
            drained = wait_until_answered(engine, expected, drain_timeout) and drained

            # 4. the console, live across instances
            live = asyncio.run(live_update_across_instances(engine, ports, urgent))
            sent.append((count - 1, urgent))
            drained = wait_until_answered(engine, expected + 1, 60) and drained
        stored = stored_inbound(engine)
        outbound = deliveries(engine, settings, telegram, twilio)
        health = integrity(engine)
        revisions = schema_revisions(engine)
        engine.dispose()

    in_load = Counter(key(r) for _, r in during_load)
    copies = [r for group in groups for r in group]
    copies += [r for _, r in during_load if in_load[key(r)] > 1]
    done = acknowledged(sent)
    distinct = {key(r) for _, r in sent}
    accepted_during_load = len(during_load) - refused_during_load
    return {
        "instances": count,
        "cpus": os.cpu_count(),
        "migrations_at_once": len(migrations),
        "migrations_failed": sum(1 for code in migrations if code),
        "schema_at_head": revisions == [head_revision()],
        "load_messages": len(load_messages),
        "people": len(people),
        "of_whom_returning": len(came_back),
        "twins_in_load": len(during_load) - len(load_messages),
        "retries_later": len(retried),
        "sent_to_every_instance_at_once": len(groups),
        "load_seconds": round(load_seconds, 2),
        "accepted_webhooks_per_s": round(accepted_during_load / load_seconds, 1),
        "distinct_messages_per_s": round(len(load_messages) / load_seconds, 1),
        "replies_to_load": replies,
        "last_reply_after_s": round(last_reply - load_started, 2),
        "end_to_end_replies_per_s": round(replies / max(last_reply - load_started, 1e-9), 1),
        "refused_during_load": refused_during_load,
        "resent_after_refusal": resent,
        "duplicates_not_2xx": sum(1 for r in copies if not 200 <= r.status < 300),
        "drained": drained,
        "distinct_messages": len(distinct),
        "never_acknowledged": len(distinct - done),
        "inbound_stored": sum(stored.values()),
        "lost_inbound": len(done - set(stored)),
        "duplicated_inbound": sum(n - 1 for n in stored.values() if n > 1),
        "unprocessed_inbound": health.unprocessed,
        "unanswered_conversations": health.unanswered,
        "contacts_with_two_open_conversations": health.contacts_with_two_open,
        "outbound_stored": outbound.stored,
        "outbound_sent": outbound.sent,
        "outbound_not_sent": outbound.not_sent,
        "sent_but_unknown_to_provider": outbound.recorded_but_never_accepted,
        "duplicated_deliveries": outbound.duplicates,
        "unexplained_sends": outbound.unexplained_sends,
        "duplicate_examples": outbound.examples,
        "staff_session_valid_on_every_instance": live.session_valid_everywhere,
        "live_update_a_sees_c": live.seen,
        "live_update_seconds": None if live.seconds is None else round(live.seconds, 2),
        "live_update_detail": live.detail,
        "seconds": round(time.monotonic() - started, 1),
    }


MUST_BE_ZERO = (
    "migrations_failed",
    "refused_during_load",
    "duplicates_not_2xx",
    "never_acknowledged",
    "lost_inbound",
    "duplicated_inbound",
    "unprocessed_inbound",
    "unanswered_conversations",
    "contacts_with_two_open_conversations",
    "outbound_not_sent",
    "sent_but_unknown_to_provider",
    "duplicated_deliveries",
    "unexplained_sends",
)
MUST_BE_TRUE = (
    "schema_at_head",
    "drained",
    "staff_session_valid_on_every_instance",
    "live_update_a_sees_c",
)


def failures(result: dict[str, Any]) -> list[str]:
    """The checks one configuration failed (empty when everything held)."""
    return [k for k in MUST_BE_ZERO if result[k]] + [k for k in MUST_BE_TRUE if not result[k]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default="1,3", help="instance counts, comma-separated")
    parser.add_argument("-n", type=int, default=3000, help="distinct messages in the load")
    parser.add_argument("-c", "--concurrency", type=int, default=30, help="connections in all")
    parser.add_argument("--per-person", type=int, default=3, help="quick messages per person")
    parser.add_argument("--twins", type=float, default=0.05, help="share sent twice in the load")
    parser.add_argument("--retries", type=float, default=0.05, help="share re-sent later")
    parser.add_argument("--at-once", type=int, default=20, help="sent to every instance at once")
    parser.add_argument("--returning", type=float, default=0.5, help="share who wrote before")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.instances.split(",")]
    if not args.database_url.startswith("postgresql"):
        parser.error("scale-out needs PostgreSQL: --database-url postgresql://...")
    if not 0 < args.n <= MAX_MESSAGES or not all(0 < n <= MAX_INSTANCES for n in counts):
        parser.error(f"1 to {MAX_MESSAGES} messages and 1 to {MAX_INSTANCES} instances")
    results = []
    for count in counts:
        result = run_config(
            count,
            args.n,
            args.concurrency,
            args.database_url,
            per_person=args.per_person,
            twins=args.twins,
            retries=args.retries,
            at_once=args.at_once,
            returning=args.returning,
            drain_timeout=min(args.drain_timeout, 1800.0),
        )
        results.append(result)
        width = max(len(k) for k in result)
        for name, value in result.items():
            print(f"{name:<{width}}  {value}")
        failed = failures(result)
        print(f"FAILED: {', '.join(failed)}\n" if failed else "all checks held\n", flush=True)
    print(json.dumps(results))
    sys.exit(1 if any(failures(r) for r in results) else 0)


if __name__ == "__main__":
    main()
