"""Console fixtures: settings without a worker, and logged-in staff."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.config import Settings
from tests.support.staff import Staff, make_staff


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No background worker: tests look at what was stored, and drive jobs by hand.
    settings.run_worker = False
    return settings


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
