"""The knowledge base the bot says now, in this process: the published one, else knowledge/.

Every reader (``knowledge``, ``matcher``, ``bot.dialogue.engine.get_flow_engine``, the
console, broadcasts, ``helpline match``) asks ``current(settings)`` for a ``Snapshot``:
one knowledge base, its version and, once asked for, the matcher trained on it
(``bot.nlu`` itself never touches the database: its ``get_knowledge`` and
``get_matcher`` are the folder's). When the database has a published knowledge base
(``bot.kb.store.published``) that is what the snapshot holds; when it has none, or there
is no database at all (a fresh checkout: the SQLite file absent, or its tables older
than the knowledge base's migration), the snapshot is ``settings.knowledge_dir``, and no
database file is created to find that out.

A long-running process (``helpline serve``, ``helpline worker``) runs ``watch``: every
``settings.kb_poll_seconds`` it reads ``kb_state.version`` (one small query), and on a
new version loads the texts and trains the matcher in a worker thread (from the model
cache under ``var/cache`` when another instance with the same home trained it already),
then swaps the snapshot in with one reference assignment. Until then the previous
snapshot answers; a version that fails to load is logged, and the previous one stays.
While a watcher runs, readers never query the database. Without one (the CLI, tests)
a reader checks the version itself, at most once per poll interval.

The snapshot is taken once per batch of messages (``get_flow_engine``): a batch is
answered by one knowledge base and the matcher trained on it, never a mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from bot import db
from bot.nlu import langid_model
from bot.nlu.knowledge import KnowledgeBase, cached_knowledge

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.nlu import Matcher as NluMatcher
    from bot.nlu.matcher import Matcher

__all__ = ["Snapshot", "current", "knowledge", "matcher", "poll_once", "reset", "status", "watch"]

log = logging.getLogger(__name__)

FOLDER = 0  # the version of a snapshot read from knowledge/


@dataclass(frozen=True)
class Snapshot:
    """One knowledge base as the bot says it: ``version`` 0 is the knowledge/ folder."""

    version: int
    fingerprint: str
    knowledge: KnowledgeBase
    matcher: Matcher | None = None  # trained when first asked for


class _Source:
    """What one database (with one knowledge/ folder) publishes, as this process holds it."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.checked_at = -math.inf
        self.watchers = 0
        self.failed_version: int | None = None
        self.lock = threading.Lock()  # one load at a time; readers never take it


_sources: dict[tuple[str, str], _Source] = {}
_sources_lock = threading.Lock()


def _source(settings: Settings) -> _Source:
    key = (settings.database_url, str(Path(settings.knowledge_dir).resolve()))
    with _sources_lock:
        return _sources.setdefault(key, _Source())


def reset() -> None:
    """Forget every snapshot (tests: the next reader loads again)."""
    with _sources_lock:
        _sources.clear()


def status(settings: Settings) -> tuple[int | None, int | None]:
    """``(version held, version that failed to load)`` for ``settings``' database."""
    source = _source(settings)
    held = source.snapshot
    return (held.version if held is not None else None), source.failed_version


# --- reading -------------------------------------------------------------------------


def knowledge(settings: Settings) -> KnowledgeBase:
    """The knowledge base the bot says now."""
    return current(settings).knowledge


def matcher(settings: Settings) -> NluMatcher:
    """The matcher the bot uses now: the built-in one trained on ``knowledge``, or, with
    ``HELPLINE_NLU=rasa``, the Rasa backend around it."""
    from bot.nlu import backend

    trained = current(settings, matcher=True).matcher
    assert trained is not None
    return backend(settings, trained)


def current(settings: Settings, *, matcher: bool = False) -> Snapshot:
    """The knowledge base the bot says now (with its matcher when ``matcher``)."""
    source = _source(settings)
    held = source.snapshot
    due = source.watchers == 0 and time.monotonic() - source.checked_at >= settings.kb_poll_seconds
    if held is None or due:
        engine = _checking_engine(settings)
        try:
            held = _refresh(settings, source, engine, train=matcher)
        finally:
            if engine is not None:
                engine.dispose()
    if matcher and held.matcher is None:
        held = _with_matcher(settings, source, held)
    return held


def _checking_engine(settings: Settings) -> Engine | None:
    """An engine to read the version with, or None when there is no database to read:
    a SQLite file that does not exist is not created."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if not path or path == ":memory:" or not Path(path).is_file():
            return None
    return db.make_engine(url, poolclass=NullPool)


def _read_version(engine: Engine | None) -> int | None:
    """``kb_state.version`` (0: nothing published, or no database); None when it cannot
    be read (the database unreachable, or older than the knowledge base's migration)."""
    if engine is None:
        return FOLDER
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT version FROM kb_state WHERE id = 1")).first()
    except Exception as exc:  # unreachable, locked, no kb_state yet: keep what is held
        log.debug("knowledge base version not read: %r", exc)
        return None
    return int(row[0]) if row is not None else FOLDER


def _refresh(
    settings: Settings, source: _Source, engine: Engine | None, *, train: bool
) -> Snapshot:
    """Read the version; when it is new, load it (and train when ``train``) and swap."""
    with source.lock:
        version = _read_version(engine)
        source.checked_at = time.monotonic()
        held = source.snapshot
        if version is None or version == source.failed_version:
            if held is not None:
                return held
            version = FOLDER  # nothing held yet: knowledge/ answers meanwhile
        if held is not None and held.version == version:
            return held
        try:
            loaded = _load(settings, engine, version, train=train, held=held)
        except Exception:
            if held is None and version != FOLDER:
                log.exception("published knowledge base %d not loaded; knowledge/ answers", version)
                source.failed_version = version
                loaded = _load(settings, None, FOLDER, train=train)
            elif held is None:
                raise
            else:
                log.exception("knowledge base %d not loaded; %d answers", version, held.version)
                source.failed_version = version
                return held
        source.snapshot = loaded  # the swap: one reference assignment
        if loaded.version == version:
            source.failed_version = None
        if held is not None:
            log.info("knowledge base %d now answers (was %d)", loaded.version, held.version)
        return loaded


def _cache_dir(settings: Settings) -> Path:
    cache_dir = settings.home / "var" / "cache"
    langid_model.use_cache_dir(cache_dir)
    return cache_dir


def _load(
    settings: Settings,
    engine: Engine | None,
    version: int,
    *,
    train: bool,
    held: Snapshot | None = None,
) -> Snapshot:
    from bot.nlu.matcher import folder_matcher, load_or_train, texts_fingerprint

    if version == FOLDER or engine is None:
        folder = Path(settings.knowledge_dir).resolve()
        trained = folder_matcher(folder, _cache_dir(settings)) if train else None
        return Snapshot(FOLDER, "", cached_knowledge(folder), trained)
    from bot.kb import store

    with Session(engine) as session:
        published = store.published(session)
    if published is None:  # unpublished since the version was read
        return _load(settings, None, FOLDER, train=train)
    fingerprint = texts_fingerprint(published.texts)
    if held is not None and held.fingerprint == fingerprint:  # a publish that left no trace
        return replace(held, version=published.version)
    knowledge = published.knowledge()
    trained = (
        load_or_train(knowledge, _cache_dir(settings), fingerprint=fingerprint) if train else None
    )
    return Snapshot(published.version, fingerprint, knowledge, trained)


def _with_matcher(settings: Settings, source: _Source, held: Snapshot) -> Snapshot:
    """``held`` with its matcher, trained (or loaded from the cache) now."""
    from bot.nlu.matcher import folder_matcher, load_or_train

    cache_dir = _cache_dir(settings)
    if held.version == FOLDER:
        model = folder_matcher(Path(settings.knowledge_dir).resolve(), cache_dir)
    else:
        model = load_or_train(held.knowledge, cache_dir, fingerprint=held.fingerprint)
    with_model = replace(held, matcher=model)
    if source.snapshot is held:  # not swapped meanwhile: keep the matcher with it
        source.snapshot = with_model
    return with_model


# --- watching ------------------------------------------------------------------------


def poll_once(engine: Engine | None, settings: Settings) -> Snapshot:
    """One look at the version, with ``engine``; a new one is loaded before it is swapped
    in, its matcher trained when this process answered with one before."""
    source = _source(settings)
    held = source.snapshot
    # A process that never answered (the console's) loads texts only.
    train = held is not None and held.matcher is not None
    return _refresh(settings, source, engine, train=train)


async def watch(settings: Settings, stop: asyncio.Event) -> None:
    """Follow what is published until ``stop`` is set.

    Each look runs in a thread of its own (a daemon: a shutdown does not wait for a
    training to finish; the next start loads or trains again)."""
    source = _source(settings)
    source.watchers += 1
    # Its own engine, without a pool: a look still running when the service stops (a
    # daemon thread) opens and closes its own connection, never one of a pool that the
    # service has disposed of meanwhile (which would be left open).
    checking = _checking_engine(settings)
    try:
        while not stop.is_set():
            looked = asyncio.get_running_loop().create_future()
            threading.Thread(
                target=_look, args=(checking, settings, looked), name="kb-live", daemon=True
            ).start()
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait((looked, stopping), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            if stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.kb_poll_seconds)
    finally:
        source.watchers -= 1


def _look(engine: Engine | None, settings: Settings, done: asyncio.Future[None]) -> None:
    try:
        poll_once(engine, settings)
    except Exception:  # e.g. knowledge/ itself broken: try again next time
        log.exception("knowledge base not checked")
    finally:
        with contextlib.suppress(RuntimeError):  # the loop has closed
            done.get_loop().call_soon_threadsafe(_finish, done)


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
