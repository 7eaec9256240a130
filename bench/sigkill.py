"""SIGKILL ``helpline serve`` in the middle of a load run, restart it, and count.

    .venv/bin/python -m bench.sigkill [-n 300] [-c 20] [--kills 2] [--reply-kills 2] \\
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

Starts fake Telegram and Twilio APIs in this process (they outlive the server, so
they count every send), then ``helpline serve`` (the worker inside) on a fresh
SQLite database, or on a fresh PostgreSQL database made next to ``--database-url``
and dropped afterwards. It sends N signed WhatsApp webhooks and N Telegram updates
(``bench.load.build_requests``: each from another person, a few replays) and kills
the server with SIGKILL ``--kills`` times, each when a further share of the
requests has been answered, while webhooks are being stored and replies sent;
then ``--reply-kills`` times more once every webhook is in, each when the fakes
have accepted a further share of the replies still to come, so that kills land
mid-send.
Requests that got no 2xx are sent again after the restart, as Telegram and Twilio
would. Once everything is answered it checks:

- lost inbound: a message answered 2xx that is not in the database;
- duplicated inbound: a message stored twice;
- unanswered: a stored message with no reply stored after it;
- outbound not sent: a reply still queued, sending or failed at the end;
- duplicated deliveries, per channel: a send the fake provider accepted whose
  message id is not the one recorded for that reply (the reply went out twice).
  A reply the provider accepted in the instant before a kill, before "sent" was
  written, is "in doubt" after the restart (see ``bot/outbox.py``): on WhatsApp the
  outbox asks Twilio's message list and records it without sending it again
  (``twilio_lookups`` counts the questions), so a WhatsApp double is a failure; the
  Telegram Bot API cannot be asked, so such a Telegram reply goes out again — those
  doubles are counted apart (``telegram_in_flight_at_kill``: first accepted before
  a kill, sent again after it), and any other double is a failure.

Exit status 1 when anything was lost or duplicated beyond that. The helpers here (fresh
database, server process, environment, delivery accounting) are shared with
``bench.faults`` and ``bench.soak``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bench import load
from bot import db
from bot.config import Settings
from bot.models import Contact, Conversation, Direction, Message, MessageStatus
from bot.privacy.addresses import decrypt_address
from tests.support.fakes.server import Recorded, Reply
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI

SECRET_KEY = "bench-secret-key-not-for-production"
PENDING = (MessageStatus.queued, MessageStatus.sending, MessageStatus.held)
DELIVERED = (MessageStatus.sent, MessageStatus.delivered, MessageStatus.read)


# --- fakes that note when each request arrived and each send was accepted --------------


class TimedTelegram(FakeTelegramAPI):
    def __init__(self) -> None:
        super().__init__()
        self.accepted_at: dict[str, float] = {}

    def fault_applies(self, recorded: Recorded) -> bool:
        recorded.at = time.monotonic()  # type: ignore[attr-defined]
        return super().fault_applies(recorded)

    def _api_sendMessage(self, params: dict[str, str]) -> Reply:
        reply = super()._api_sendMessage(params)
        if reply.status == 200:
            message_id = str(json.loads(reply.body)["result"]["message_id"])
            self.accepted_at[message_id] = time.monotonic()
        return reply


class TimedTwilio(FakeTwilioAPI):
    def __init__(self) -> None:
        super().__init__()
        self.accepted_at: dict[str, float] = {}

    def fault_applies(self, recorded: Recorded) -> bool:
        recorded.at = time.monotonic()  # type: ignore[attr-defined]
        return super().fault_applies(recorded)

    def _create_message(self, params: dict[str, str]) -> Reply:
        reply = super()._create_message(params)
        if reply.status == 201:
            self.accepted_at[str(json.loads(reply.body)["sid"])] = time.monotonic()
        return reply


def accepted_sends(
    telegram: TimedTelegram, twilio: TimedTwilio
) -> dict[tuple[str, str], tuple[str, str, float]]:
    """Every send a fake accepted: (channel, provider id) -> (recipient, text, when)."""
    sends: dict[tuple[str, str], tuple[str, str, float]] = {}
    with telegram._lock:
        for message in telegram.sent:
            message_id = str(message.message_id)
            when = telegram.accepted_at.get(message_id, 0.0)
            sends[("telegram", message_id)] = (message.chat_id, message.text, when)
    with twilio._lock:
        for sent in twilio.sent:
            text = sent.body or f"template:{sent.content_sid}"
            sends[("whatsapp", sent.sid)] = (sent.to, text, twilio.accepted_at.get(sent.sid, 0.0))
    return sends


# --- the database and the server --------------------------------------------------------


@contextlib.contextmanager
def fresh_database(base_url: str | None) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a new PostgreSQL database."""
    if not base_url or base_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            db.upgrade(url)
            yield url
        return
    import psycopg

    admin = base_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"helpline_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        db.upgrade("postgresql+psycopg://" + url.removeprefix("postgresql://"))
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def helpline_env(
    database_url: str,
    port: int,
    telegram: FakeTelegramAPI,
    twilio: FakeTwilioAPI,
    **extra: str,
) -> dict[str, str]:
    """``helpline serve``'s environment: the fakes, a fresh database, no debounce."""
    env = dict(
        os.environ,
        HELPLINE_DATABASE_URL=database_url,
        HELPLINE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        HELPLINE_SECRET_KEY=SECRET_KEY,
        HELPLINE_DEBOUNCE_SECONDS="0",
        HELPLINE_LOG_LEVEL="WARNING",
        HELPLINE_TELEGRAM_TOKEN=telegram.token,
        HELPLINE_TELEGRAM_API_URL=telegram.api_url,
        HELPLINE_TELEGRAM_WEBHOOK_SECRET=load.WEBHOOK_SECRET,
        HELPLINE_TWILIO_ACCOUNT_SID=twilio.account_sid,
        HELPLINE_TWILIO_AUTH_TOKEN=twilio.auth_token,
        HELPLINE_TWILIO_WHATSAPP_FROM="whatsapp:+32470000000",
        HELPLINE_TWILIO_API_URL=twilio.url,
    )
    env.update({f"HELPLINE_{k.upper()}": v for k, v in extra.items()})
    return env


class Server:
    """``helpline serve`` as a subprocess on 127.0.0.1."""

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.env = env
        self.process: Any = None
        self.starts = 0

    def start(self) -> Server:
        self.process = load.serve_helpline(self.port, 1, self.env)
        try:
            load.wait_until_up(self.port, "/readyz", self.process)
        except BaseException:
            self.stop()  # a server that never came up is not left running, orphaned
            raise
        self.starts += 1
        return self

    def kill(self) -> float:
        """SIGKILL: no shutdown, no flush; returns when (monotonic)."""
        killed_at = time.monotonic()
        self.process.kill()
        self.process.wait()
        return killed_at

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            load.stop(self.process)

    @property
    def pid(self) -> int:
        return int(self.process.pid)


def bench_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key=SECRET_KEY, run_worker=False)


def make_engine(database_url: str) -> Engine:
    return db.make_engine(database_url)


# --- what the database holds --------------------------------------------------------------


@dataclass
class Backlog:
    inbound: int = 0  # stored
    inbound_waiting: int = 0  # stored, not yet handled by the bot
    outbound: int = 0
    outbound_pending: int = 0  # queued, sending or held
    outbound_sending: int = 0  # claimed by a worker, not yet recorded sent
    outbound_failed: int = 0
    handoff_queue: int = 0  # conversations waiting for staff

    @property
    def drained(self) -> bool:
        return self.inbound_waiting == 0 and self.outbound_pending == 0


def backlog(engine: Engine) -> Backlog:
    with Session(engine) as session:
        counts = session.exec(
            select(Message.direction, Message.status, func.count()).group_by(
                col(Message.direction), col(Message.status)
            )
        ).all()
        queue = session.exec(
            select(func.count()).select_from(Conversation).where(Conversation.owner == "queue")
        ).one()
    result = Backlog(handoff_queue=int(queue))
    for direction, status, count in counts:
        if direction == Direction.inbound:
            result.inbound += count
            if status == MessageStatus.received:
                result.inbound_waiting += count
        elif direction == Direction.outbound:
            result.outbound += count
            if status in PENDING:
                result.outbound_pending += count
            if status == MessageStatus.sending:
                result.outbound_sending += count
            elif status == MessageStatus.failed:
                result.outbound_failed += count
    return result


def wait_for_drain(engine: Engine, expected_inbound: int, timeout: float) -> tuple[bool, float]:
    """Until every expected message is stored and answered and the outbox is empty."""
    started = time.monotonic()
    calm = 0
    while time.monotonic() - started < timeout:
        now = backlog(engine)
        calm = calm + 1 if now.drained and now.inbound >= expected_inbound else 0
        if calm >= 3:  # three quiet looks in a row: nothing was still on its way
            return True, time.monotonic() - started
        time.sleep(0.5)
    return False, time.monotonic() - started


def stored_inbound(engine: Engine) -> Counter[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Message.channel, Message.provider_message_id).where(
                Message.direction == Direction.inbound
            )
        ).all()
    return Counter((channel, provider_id or "") for channel, provider_id in rows)


def last_message_ids(session: Session, direction: str) -> dict[int, int]:
    """Conversation id -> the id of its newest message in that direction."""
    return dict(
        session.exec(
            select(Message.conversation_id, func.max(Message.id))
            .where(Message.direction == direction)
            .group_by(col(Message.conversation_id))
        ).all()
    )


def unanswered_inbound(engine: Engine) -> int:
    """Conversations whose last inbound message has no outbound message after it."""
    with Session(engine) as session:
        last_in = last_message_ids(session, Direction.inbound)
        last_out = last_message_ids(session, Direction.outbound)
    return sum(1 for cid, mid in last_in.items() if last_out.get(cid, 0) < mid)


@dataclass
class Deliveries:
    stored: int = 0  # outbound rows
    sent: int = 0  # rows recorded sent (or delivered/read)
    not_sent: int = 0  # rows still pending or failed at the end
    recorded_but_never_accepted: int = 0  # a row says sent; the provider has no such id
    duplicates: int = 0  # accepted sends beyond one per row
    in_flight_at_kill: int = 0  # of those, first accepted before a kill, again after it
    duplicates_by_channel: Counter[str] = field(default_factory=Counter)
    in_flight_by_channel: Counter[str] = field(default_factory=Counter)
    unexplained_sends: int = 0  # accepted sends matching no stored row at all
    examples: list[str] = field(default_factory=list)


def deliveries(
    engine: Engine,
    settings: Settings,
    telegram: TimedTelegram,
    twilio: TimedTwilio,
    kills: list[float] | None = None,
) -> Deliveries:
    """Each stored reply against what the fake providers accepted, by message id."""
    sends = accepted_sends(telegram, twilio)
    with Session(engine) as session:
        rows = session.exec(
            select(Message, Contact.address_enc)
            .join(Conversation, col(Conversation.id) == Message.conversation_id)
            .join(Contact, col(Contact.id) == Conversation.contact_id)
            .where(Message.direction == Direction.outbound)
        ).all()
    result = Deliveries(stored=len(rows))
    expected: Counter[tuple[str, str, str]] = Counter()
    recorded_ids: set[tuple[str, str]] = set()
    for message, address_enc in rows:
        address = decrypt_address(settings, address_enc)
        if message.channel == "telegram":
            text = message.text or ""
            provider_id = (message.provider_message_id or ":").rsplit(":", 1)[1]
        else:
            text = message.text or f"template:{message.template_sid}"
            provider_id = message.provider_message_id or ""
        if message.status in DELIVERED:
            result.sent += 1
            recorded_ids.add((message.channel, provider_id))
            expected[(message.channel, address, text)] += 1
            if (message.channel, provider_id) not in sends:
                result.recorded_but_never_accepted += 1
        else:
            result.not_sent += 1
    accepted: Counter[tuple[str, str, str]] = Counter()
    doubled: list[tuple[str, str, str]] = []
    recorded_at: dict[tuple[str, str, str], float] = {}  # the newest recorded send of each
    for (channel, provider_id), (recipient, text, when) in sends.items():
        if (channel, provider_id) in recorded_ids:
            key = (channel, recipient, text)
            recorded_at[key] = max(recorded_at.get(key, 0.0), when)
    for (channel, provider_id), (recipient, text, when) in sorted(
        sends.items(), key=lambda item: item[1][2]
    ):
        key = (channel, recipient, text)
        accepted[key] += 1
        if (channel, provider_id) in recorded_ids:
            continue
        if expected[key] == 0:
            result.unexplained_sends += 1
            continue
        result.duplicates += 1
        result.duplicates_by_channel[channel] += 1
        # the send nobody recorded: accepted before a kill (or just after: a request
        # the server wrote before it died still reaches the fake), and sent again after?
        if any(when - 1.0 <= kill <= recorded_at.get(key, 0.0) for kill in kills or []):
            result.in_flight_at_kill += 1
            result.in_flight_by_channel[channel] += 1
        doubled.append(key)
    result.examples = [
        f"{channel} reply accepted {accepted[key]}x: {text[:40]!r}"
        for key in doubled[:5]
        for channel, _, text in [key]
    ]
    return result


# --- the run ---------------------------------------------------------------------------------


def send_until(
    port: int,
    requests: list[load.Request],
    concurrency: int,
    stop_after: int | None = None,
    server: Server | None = None,
) -> float | None:
    """Send; when ``stop_after`` requests are answered, SIGKILL ``server`` (returns when)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(load.run_load(port, requests, concurrency))
        except (OSError, asyncio.IncompleteReadError) as exc:  # the server died under us
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    killed_at = None
    if stop_after is not None and server is not None:
        while thread.is_alive() and sum(1 for r in requests if r.status) < stop_after:
            time.sleep(0.005)
        if thread.is_alive():
            killed_at = server.kill()
    thread.join(timeout=120)
    if errors and killed_at is None:
        raise errors[0]
    return killed_at


def run(
    n: int,
    concurrency: int,
    kills: int,
    database_url: str | None,
    replay: float = 0.05,
    drain_timeout: float = 180.0,
    lease_seconds: float = 5.0,
    reply_kills: int = 0,
) -> dict[str, Any]:
    started = time.monotonic()
    with (
        fresh_database(database_url) as url,
        TimedTelegram() as telegram,
        TimedTwilio() as twilio,
    ):
        port = load.free_port()
        env = helpline_env(url, port, telegram, twilio, outbox_lease_seconds=str(lease_seconds))
        requests = load.build_requests(n, f"http://127.0.0.1:{port}", twilio.auth_token, replay)
        acknowledged: set[tuple[str, str]] = set()
        kill_times: list[float] = []
        at_kill: list[Backlog] = []
        engine = make_engine(url)
        attempts = 0
        server = Server(port, env).start()
        try:
            todo = requests
            for phase in range(kills + 1):
                batch = [load.Request(r.channel, r.provider_id, r.raw, r.replay) for r in todo]
                attempts += len(batch)
                last = phase == kills
                # kill once a further share of the whole run has been answered
                share = len(requests) * (phase + 1) // (kills + 1) - (len(requests) - len(todo))
                killed_at = send_until(
                    port, batch, concurrency, None if last else max(1, share), server
                )
                acknowledged |= {(r.channel, r.provider_id) for r in batch if 200 <= r.status < 300}
                if killed_at is not None:
                    kill_times.append(killed_at)
                    at_kill.append(backlog(engine))  # what the dead server left behind
                    server.start()
                # what got no 2xx is sent again, as the providers would
                todo = [r for r in requests if (r.channel, r.provider_id) not in acknowledged]
                if last and todo:  # the last round may leave 503s: retry until all are in
                    for _ in range(5):
                        batch = [load.Request(r.channel, r.provider_id, r.raw) for r in todo]
                        attempts += len(batch)
                        send_until(port, batch, concurrency)
                        acknowledged |= {
                            (r.channel, r.provider_id) for r in batch if 200 <= r.status < 300
                        }
                        todo = [r for r in todo if (r.channel, r.provider_id) not in acknowledged]
                        if not todo:
                            break
            unique = {(r.channel, r.provider_id) for r in requests}
            # every webhook is in: now kill while the replies go out
            expected_replies = 2 * len(unique)  # a first message gets the notice and a question
            already = len(telegram.sent) + len(twilio.sent)
            for phase in range(reply_kills):
                share = (expected_replies - already) * (phase + 1) // (reply_kills + 1)
                target = already + share
                deadline = time.monotonic() + 60
                while len(telegram.sent) + len(twilio.sent) < target:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.002)
                kill_times.append(server.kill())
                at_kill.append(backlog(engine))
                server.start()
            drained, drain_seconds = wait_for_drain(engine, len(unique), drain_timeout)
        finally:
            server.stop()
        stored = stored_inbound(engine)
        final = backlog(engine)
        outbound = deliveries(engine, bench_settings(url), telegram, twilio, kill_times)
        unanswered = unanswered_inbound(engine)
        engine.dispose()
    lost_inbound = sorted(k for k in acknowledged if k not in stored)
    return {
        "database": "postgresql" if database_url and "postgres" in database_url else "sqlite",
        "messages": len({(r.channel, r.provider_id) for r in requests}),
        "requests_sent": attempts,
        "kills": len(kill_times),
        "at_each_kill": [
            f"{b.inbound} in stored ({b.inbound_waiting} unanswered), "
            f"{b.outbound} out ({b.outbound_pending} unsent, {b.outbound_sending} mid-send)"
            for b in at_kill
        ],
        "server_starts": server.starts,
        "acknowledged_2xx": len(acknowledged),
        "never_acknowledged": len({(r.channel, r.provider_id) for r in requests} - acknowledged),
        "inbound_stored": sum(stored.values()),
        "lost_inbound": len(lost_inbound),
        "duplicated_inbound": sum(c - 1 for c in stored.values() if c > 1),
        "unanswered": unanswered,
        "outbound_stored": outbound.stored,
        "outbound_sent": outbound.sent,
        "outbound_not_sent": outbound.not_sent,
        "outbound_failed": final.outbound_failed,
        "sent_but_unknown_to_provider": outbound.recorded_but_never_accepted,
        "provider_accepted": outbound.sent + outbound.duplicates + outbound.unexplained_sends,
        "duplicated_deliveries": outbound.duplicates,
        "duplicated_deliveries_whatsapp": outbound.duplicates_by_channel["whatsapp"],
        "duplicated_deliveries_telegram": outbound.duplicates_by_channel["telegram"],
        "telegram_in_flight_at_kill": outbound.in_flight_by_channel["telegram"],
        "twilio_lookups": len(twilio.lookups()),
        "unexplained_sends": outbound.unexplained_sends,
        "duplicate_examples": outbound.examples,
        "drained": drained,
        "drain_seconds": round(drain_seconds, 1),
        "seconds": round(time.monotonic() - started, 1),
    }


def failed(result: dict[str, Any]) -> bool:
    return bool(
        result["lost_inbound"]
        or result["duplicated_inbound"]
        or result["unanswered"]
        or result["outbound_not_sent"]
        or result["sent_but_unknown_to_provider"]
        or result["duplicated_deliveries_whatsapp"]
        or result["duplicated_deliveries_telegram"] > result["telegram_in_flight_at_kill"]
        or result["unexplained_sends"]
        or not result["drained"]
    )


def print_result(result: dict[str, Any]) -> None:
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="messages per channel")
    parser.add_argument("-c", "--concurrency", type=int, default=20)
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs while webhooks arrive")
    parser.add_argument(
        "--reply-kills", type=int, default=2, help="SIGKILLs after, while the replies go out"
    )
    parser.add_argument("--replay", type=float, default=0.05, help="fraction replayed")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    args = parser.parse_args()
    result = run(
        args.n,
        args.concurrency,
        args.kills,
        args.database_url,
        args.replay,
        args.drain_timeout,
        reply_kills=args.reply_kills,
    )
    print_result(result)
    sys.exit(1 if failed(result) else 0)


if __name__ == "__main__":
    main()
