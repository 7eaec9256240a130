"""Shared fixtures: a real database per test, the app, a live server, the fake
providers, and what tests in several folders use (the channels, the flow engine with
the small fake matcher and a person chatting, logged-in staff).

By default every test gets its own SQLite file copied from one migrated template.
With ``HELPLINE_TEST_DATABASE_URL=postgresql://...`` (as ``.ci/run`` sets it), the
database-touching tests run against a fresh PostgreSQL database instead, emptied
after each test.

The helpers behind these fixtures are in ``tests/support/``.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import SQLModel
from typer.testing import CliRunner

from bot import db
from bot.app import create_app
from bot.channels import Channels, build_channels
from bot.config import PROJECT_HOME, Settings, get_settings
from bot.dialogue.engine import FlowEngine, load_flows
from bot.hours import OpeningHours
from bot.nlu.knowledge import get_knowledge
from tests.support.database import POSTGRES_URL
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI
from tests.support.flows import Chat, FakeMatcher
from tests.support.live_server import LiveServer
from tests.support.staff import Staff, make_staff


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def _postgres_admin_url(url: str, dbname: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + dbname


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database: a SQLite file to copy, or a PostgreSQL database to share."""
    if POSTGRES_URL:
        import psycopg

        name = f"helpline_test_{uuid.uuid4().hex[:10]}"
        admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = _postgres_admin_url(POSTGRES_URL, name)
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        db.upgrade(url)
        yield url
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        db.upgrade(f"sqlite:///{path}")
        yield str(path)


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    if POSTGRES_URL:
        return database_template
    path = tmp_path / "helpline.db"
    shutil.copy(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    yield engine
    if POSTGRES_URL:
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        env="test",
        home=PROJECT_HOME,
        database_url=database_url,
        public_url="http://testserver",
        secret_key="test-secret-key",
        demo=False,  # whatever the shell says (`make run` sets HELPLINE_DEMO): no fake details
    )


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    return create_app(settings, engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def helpline_cli(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """A runner for the ``helpline`` command, on the test database.

    The command reads its settings from the environment at its first ``get_settings()``:
    a fixture or test adds its own with ``monkeypatch.setenv`` before that. It runs as
    ``HELPLINE_ENV=test``, where the placeholder secret is still accepted (elsewhere an
    instance given none generates its own and keeps them under its home).
    """
    monkeypatch.setenv("HELPLINE_ENV", "test")
    monkeypatch.setenv("HELPLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegramAPI]:
    """A fake Telegram Bot API on 127.0.0.1; ``fake_telegram.configure(settings)`` uses it."""
    with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilioAPI]:
    """A fake Twilio API on 127.0.0.1; ``fake_twilio.configure(settings)`` uses it."""
    with FakeTwilioAPI() as fake:
        yield fake


@pytest.fixture
async def channels(settings: Settings) -> AsyncIterator[Channels]:
    channels = build_channels(settings)
    yield channels
    await channels.aclose()


@pytest.fixture
def flows(settings: Settings) -> FlowEngine:
    """The flow engine with the small ``FakeMatcher``: tests of the flows, not the matcher."""
    return FlowEngine(
        settings,
        load_flows(settings.flows_dir),
        get_knowledge(settings),
        FakeMatcher(),
        OpeningHours.from_settings(settings),
    )


@pytest.fixture
def chat(engine: Engine, settings: Settings, flows: FlowEngine) -> Iterator[Chat]:
    yield Chat(engine, settings, flows)


@pytest.fixture
def alice(engine: Engine, app: FastAPI, client: TestClient) -> Iterator[Staff]:
    staff = make_staff(engine, app, "alice@example.org").login()
    yield staff
    staff.client.close()


@pytest.fixture
def bob(engine: Engine, app: FastAPI, client: TestClient) -> Iterator[Staff]:
    staff = make_staff(engine, app, "bob@example.org").login()
    yield staff
    staff.client.close()


@pytest.fixture
def admin(engine: Engine, app: FastAPI, client: TestClient) -> Iterator[Staff]:
    staff = make_staff(engine, app, "admin@example.org", role="admin").login()
    yield staff
    staff.client.close()
