"""A published change is what the bot says, within seconds, without a restart.

A service with its worker, on the test database, Telegram pointed at the fake API: a
person asks "Where can I apply for asylum?", an editor publishes a changed answer, and
the next people asking are answered with it. Without a database (a fresh checkout) or
with one older than the knowledge base's migration, the bot reads ``knowledge/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bench import load
from bench.kb_publish import NEW_ANSWER, QUESTION, TOPIC, ask, publish_change
from bot import db
from bot.app import create_app
from bot.config import Settings
from bot.kb import live, store
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.live_server import LiveServer

OLD_FIRST_LINE = "You apply for asylum at the arrival (registration) centre in Brussels:"


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home for the models trained here, shared by these tests (not the checkout's)."""
    return tmp_path_factory.mktemp("kb-live-home")


@pytest.fixture
def settings(settings: Settings, fake_telegram: FakeTelegramAPI, model_home: Path) -> Settings:
    fake_telegram.configure(settings, webhook_secret=load.WEBHOOK_SECRET)
    settings.home = model_home  # knowledge/, flows/ and locales/ stay the checkout's
    settings.debounce_seconds = 0
    settings.kb_poll_seconds = 0.2
    return settings


@pytest.fixture
def imported(engine: Engine, settings: Settings) -> int:
    """knowledge/ in the database, as the first ``helpline db upgrade`` loads it."""
    with Session(engine) as session:
        version = store.import_directory(session, settings.knowledge_dir).version
        session.commit()
    assert version is not None
    return version


@pytest.fixture
def service(settings: Settings, engine: Engine, imported: int) -> Iterator[int]:
    """The app with its worker, served on a port."""
    settings.run_worker = True
    with LiveServer(create_app(settings, engine)) as server:
        yield server.port


def eventually(condition: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_published_answer_is_what_the_running_bot_says_next(
    service: int, settings: Settings, fake_telegram: FakeTelegramAPI
) -> None:
    before, _ = ask(service, settings, fake_telegram)
    assert before.startswith(OLD_FIRST_LINE)

    publish_change(settings.database_url)

    said: list[str] = []

    def answered_with_the_change() -> bool:
        said.append(ask(service, settings, fake_telegram)[0])
        return NEW_ANSWER in said[-1]

    eventually(answered_with_the_change)
    # Until the new model was ready, the previous one answered: never anything else.
    assert all(text.startswith(OLD_FIRST_LINE) for text in said[:-1])
    assert ask(service, settings, fake_telegram)[0].startswith(NEW_ANSWER)


def test_a_publish_that_fails_to_load_leaves_the_previous_answer(
    service: int,
    settings: Settings,
    fake_telegram: FakeTelegramAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ask(service, settings, fake_telegram)[0].startswith(OLD_FIRST_LINE)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise MemoryError("no room to train")

    monkeypatch.setattr("bot.nlu.matcher.load_or_train", broken)
    version, _ = publish_change(settings.database_url)
    eventually(lambda: live.status(settings) == (version - 1, version))

    assert ask(service, settings, fake_telegram)[0].startswith(OLD_FIRST_LINE)


def test_without_a_service_a_publish_is_read_at_the_next_look(
    engine: Engine, settings: Settings, imported: int
) -> None:
    assert live.knowledge(settings).answer(TOPIC, "en").answer.startswith(OLD_FIRST_LINE)

    publish_change(settings.database_url)

    eventually(lambda: live.knowledge(settings).answer(TOPIC, "en").answer == NEW_ANSWER)
    assert live.matcher(settings).match(QUESTION).topic == TOPIC


def test_with_no_database_file_the_folder_answers_and_none_is_created(
    settings: Settings, tmp_path: Path
) -> None:
    absent = tmp_path / "var" / "helpline.db"
    settings.database_url = f"sqlite:///{absent}"

    knowledge = live.knowledge(settings)

    assert knowledge.answer(TOPIC, "en").answer.startswith(OLD_FIRST_LINE)
    assert live.status(settings) == (0, None)
    assert not absent.exists() and not absent.parent.exists()


def test_a_database_older_than_the_knowledge_base_reads_the_folder(
    settings: Settings, tmp_path: Path
) -> None:
    settings.database_url = f"sqlite:///{tmp_path / 'old.db'}"
    db.upgrade(settings.database_url, "0009")

    assert live.knowledge(settings).answer(TOPIC, "en").answer.startswith(OLD_FIRST_LINE)
    assert live.status(settings) == (0, None)
