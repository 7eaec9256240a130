"""Console fixtures: settings without a worker, and logged-in staff."""

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
    # No background worker: API tests look at messages exactly as the console stored them.
    return Settings(
        env="test",
        home=PROJECT_HOME,
        database_url=database_url,
        public_url="http://testserver",
        secret_key="test-secret-key",
        run_worker=False,
    )


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
