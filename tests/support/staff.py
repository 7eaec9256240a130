"""Test clients that behave like a staff member's browser (cookies, CSRF tokens)."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from tests.support.factories import PASSWORD, add_staff

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: TestClient, path: str = "/console/login") -> str:
    page = client.get(path, headers={"accept": "text/html"})
    found = CSRF.search(page.text)
    assert found, f"no CSRF field on {path}: {page.status_code}"
    return found.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_token(client)
    response = client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


class Staff:
    """A logged-in browser-like client for one staff member."""

    def __init__(self, app: FastAPI, user_id: int, email: str) -> None:
        self.client = TestClient(app, headers={"accept": "text/html"})
        self.id = user_id
        self.email = email

    def login(self) -> Staff:
        log_in(self.client, self.email)
        return self

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        token = csrf_token(self.client, "/console/queue")
        return self.client.post(
            path, data={**(data or {}), "csrf_token": token}, follow_redirects=False, **kwargs
        )

    def get(self, path: str):  # type: ignore[no-untyped-def]
        return self.client.get(path, follow_redirects=False)


def make_staff(engine: Engine, app: FastAPI, email: str, role: str = "staff") -> Staff:
    with Session(engine) as session:
        user = add_staff(session, email, role)
        session.commit()
        assert user.id is not None
        return Staff(app, user.id, email)
