"""From "publish" to "the bot says it": a changed answer, live on every instance.

Real ``helpline serve`` processes (with their worker) on one database, Telegram pointed
at a fake API on 127.0.0.1. The database starts with ``knowledge/`` imported (``helpline
db upgrade``), each instance in its own home (its own model cache, as on its own
machine, unless ``shared_home``). Once every instance answers the question "Where can I
apply for asylum?" with the imported answer, a changed English answer is saved as a
draft and published (``bot.kb.store``); from that commit on, each instance is asked the
question again, by a new person each time, until it answers with the new text. Every
reply is the old text or the new one, never anything else: the previous model answers
until the new one is swapped in.

It measures, per instance, the time from the publish's commit to the first reply that
carries the new text (the fake notes when a send arrives), and, in this process, how
long training the matcher on the published knowledge base takes, and loading it from
the model cache another instance wrote. ``tests/kb/test_live_instances.py`` runs a small
configuration on PostgreSQL.

    python -m bench.kb_publish                        # SQLite, 2 instances
    python -m bench.kb_publish --database postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from bench import load
from bench.sigkill import SECRET_KEY, TimedTelegram
from bot import db
from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.kb import store
from bot.models import utcnow
from tests.support.fakes.telegram_api import FakeTelegramAPI

QUESTION = "Where can I apply for asylum?"
TOPIC = "asylum.apply"
NEW_ANSWER = (
    "Changed for bench/kb_publish: ask for asylum at the Immigration Office "
    "(Dienst Vreemdelingenzaken), Pachecolaan 44, 1000 Brussels. Go early in the morning."
)
PACE = 0.5
HELPLINE = str(Path(load.PYTHON).parent / "helpline")
_people = itertools.count(7_700_000_001)


def environment(database_url: str, home: Path, telegram: FakeTelegramAPI) -> dict[str, str]:
    """``helpline serve``'s environment: ``home`` for its cache, the checkout's content."""
    root = Path(load.ROOT)
    return dict(
        os.environ,
        HELPLINE_DATABASE_URL=database_url,
        HELPLINE_HOME=str(home),
        HELPLINE_KNOWLEDGE_DIR=str(root / "knowledge"),
        HELPLINE_FLOWS_DIR=str(root / "flows"),
        HELPLINE_LOCALES_DIR=str(root / "locales"),
        HELPLINE_SECRET_KEY=SECRET_KEY,
        HELPLINE_PUBLIC_URL="http://helpline.localhost",
        HELPLINE_DEBOUNCE_SECONDS="0",
        HELPLINE_LOG_LEVEL="WARNING",
        HELPLINE_TELEGRAM_TOKEN=telegram.token,
        HELPLINE_TELEGRAM_API_URL=telegram.api_url,
        HELPLINE_TELEGRAM_WEBHOOK_SECRET=load.WEBHOOK_SECRET,
    )


@contextlib.contextmanager
def serving(env: dict[str, str]) -> Iterator[int]:
    port = load.free_port()
    process = load.serve_helpline(port, 1, env)
    try:
        load.wait_until_up(port, "/readyz", process)
        yield port
    finally:
        load.stop(process)


def consenting_person(settings: Settings) -> str:
    """A new Telegram chat whose person chose English and agreed already: their question
    is answered at once, without the first-contact questions. ``settings``: the
    instances' (their secret key finds a person by their address)."""
    chat = str(next(_people))
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            contact = get_or_create_contact(session, settings, "telegram", chat)
            contact.language, contact.consent_at = "en", utcnow()
            session.add(contact)
    finally:
        engine.dispose()
    return chat


def ask(
    port: int, settings: Settings, telegram: FakeTelegramAPI, timeout: float = 120.0
) -> tuple[str, float]:
    """The question, by a new person, to the instance on ``port``; the bot's first
    reply and when the fake received it (``time.monotonic``)."""
    chat = consenting_person(settings)
    update = {
        "update_id": next(_people),
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": int(chat), "type": "private"},
            "from": {"id": int(chat), "is_bot": False, "first_name": "A"},
            "text": QUESTION,
        },
    }
    response = httpx.post(
        f"http://127.0.0.1:{port}/webhooks/telegram",
        content=json.dumps(update).encode(),
        headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": load.WEBHOOK_SECRET,
        },
        timeout=30,
    )
    response.raise_for_status()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = telegram.sent_to(chat)
        if sent:
            return sent[0].text, time.monotonic()
        time.sleep(0.02)
    raise TimeoutError(f"no reply from the instance on port {port}")


def publish_change(database_url: str) -> tuple[int, float]:
    """Save and publish the new English answer; the version and when it was committed."""
    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            draft = store.save_draft(
                session,
                TOPIC,
                "system:bench",
                changes={"languages": {"en": {"answer": NEW_ANSWER}}},
                summary="bench: changed answer",
            )
            assert draft.id is not None
            version = store.publish(session, draft.id, "system:bench")
            session.commit()
            return version, time.monotonic()
    finally:
        engine.dispose()


def retraining_seconds(database_url: str, home: Path) -> dict[str, float]:
    """Training the matcher on the published knowledge base, and loading it from the
    model cache instead (what a second instance with the same home does)."""
    from bot.nlu.matcher import Matcher, load_or_train, texts_fingerprint

    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            published = store.published(session)
    finally:
        engine.dispose()
    assert published is not None
    knowledge = published.knowledge()
    started = time.perf_counter()
    trained = Matcher.train(knowledge)
    train = time.perf_counter() - started
    cache = home / "retrain-cache"
    trained.save(cache / f"matcher-{texts_fingerprint(published.texts)}.npz")
    started = time.perf_counter()
    load_or_train(knowledge, cache, fingerprint=texts_fingerprint(published.texts))
    return {"train_seconds": train, "load_seconds": time.perf_counter() - started}


def run(database_url: str, instances: int = 2, *, shared_home: bool = False) -> dict[str, Any]:
    """One run: the figures of the module docstring, and what each instance said."""
    with tempfile.TemporaryDirectory(prefix="kb-publish-") as tmp, TimedTelegram() as telegram:
        homes = [Path(tmp) / ("home" if shared_home else f"home{i}") for i in range(instances)]
        envs = [environment(database_url, home, telegram) for home in homes]
        subprocess.run([HELPLINE, "db", "upgrade"], env=envs[0], check=True, capture_output=True)
        settings = Settings(database_url=database_url, secret_key=SECRET_KEY)
        with contextlib.ExitStack() as stack:
            ports = [stack.enter_context(serving(env)) for env in envs]
            before = [ask(port, settings, telegram)[0] for port in ports]
            version, published_at = publish_change(database_url)
            replies: list[list[str]] = [[] for _ in ports]
            seconds: list[float] = []
            for port, said in zip(ports, replies, strict=True):
                while not said or NEW_ANSWER not in said[-1]:
                    asked = time.monotonic()
                    text, at = ask(port, settings, telegram)
                    said.append(text)
                    # A person every PACE seconds at most: the instance trains meanwhile.
                    time.sleep(max(0.0, asked + PACE - time.monotonic()))
                seconds.append(at - published_at)
        result: dict[str, Any] = {
            "database": database_url.split(":", 1)[0],
            "instances": instances,
            "version": version,
            "before": before,
            "after": replies,
            "publish_to_reply_seconds": seconds,
        }
        result.update(retraining_seconds(database_url, Path(tmp)))
        return result


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | instances | publish → new reply, per instance (s) | asked | train (s) "
        "| load from cache (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        per = ", ".join(f"{s:.1f}" for s in r["publish_to_reply_seconds"])
        asked = ", ".join(str(len(a)) for a in r["after"])
        lines.append(
            f"| {r['database']} | {r['instances']} | {per} | {asked} "
            f"| {r['train_seconds']:.1f} | {r['load_seconds']:.2f} |"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="kb-publish-db-") as tmp:
        yield f"sqlite:///{tmp}/helpline.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", action="append", default=[], help="a PostgreSQL server")
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args()
    from bench.scaleout import empty_database

    results = []
    with sqlite_database() as url:
        results.append(run(url, args.instances))
    for server in args.database:
        with empty_database(server) as url:
            results.append(run(url, args.instances))
    print(table(results))


if __name__ == "__main__":
    main()
