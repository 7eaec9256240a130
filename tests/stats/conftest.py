"""Statistics fixtures: the app without its background worker, and logged-in staff."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.config import PROJECT_HOME, Settings
from tests.console.clients import Staff, make_staff


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        env="test",
        home=PROJECT_HOME,
        database_url=database_url,
        public_url="http://testserver",
        secret_key="test-secret-key",
        run_worker=False,
    )


def _logged_in(engine: Engine, app: FastAPI, email: str, role: str = "staff") -> Iterator[Staff]:
    staff = make_staff(engine, app, email, role=role).login()
    yield staff
    staff.client.close()


@pytest.fixture
def alice(engine: Engine, app: FastAPI, client: TestClient) -> Iterator[Staff]:
    yield from _logged_in(engine, app, "alice@example.org")


@pytest.fixture
def bob(engine: Engine, app: FastAPI, client: TestClient) -> Iterator[Staff]:
    yield from _logged_in(engine, app, "bob@example.org")


@pytest.fixture
def admin(engine: Engine, app: FastAPI, client: TestClient) -> Iterator[Staff]:
    yield from _logged_in(engine, app, "admin@example.org", role="admin")
