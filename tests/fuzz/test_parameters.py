"""Every integer a route takes, at the extremes and beyond: never a 5xx.

The routes are read from the app, the console's too (the OpenAPI schema leaves them
out), so a new route with a number in its path, query or form is fuzzed without being
listed here. The caller is a logged-in admin who also has a web chat going, so that
each number reaches the code (and the database) behind the route: an id past what
the id columns hold (2**31 - 1 on PostgreSQL, 2**63 - 1 on SQLite) used to be a driver
error there, a 500.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from bot.app import create_app
from bot.config import Settings
from tests.fuzz.strategies import FUZZ, any_integers, out_of_range_integers
from tests.support.factories import add_conversation
from tests.support.staff import Staff, csrf_token, make_staff


def _fields(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    for field in dependant.path_params:
        yield "path", field
    for field in dependant.query_params:
        yield "query", field
    for field in dependant.body_params:
        yield "form", field
    for sub in dependant.dependencies:
        yield from _fields(sub)


def _is_integer(annotation: Any) -> bool:
    return annotation is int or (int in getattr(annotation, "__args__", ()))


def _streams(route: APIRoute) -> bool:
    returns = inspect.signature(route.endpoint, eval_str=True).return_annotation
    return inspect.isclass(returns) and issubclass(returns, StreamingResponse)


def routes_taking_integers() -> list[tuple[str, str, str]]:
    """(method, path, where: name ...) of every route with an integer parameter."""
    app = create_app(Settings(env="test"), create_engine("sqlite://"))
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        integers = [
            f"{where}:{field.name}"
            for where, field in _fields(route.dependant)
            if _is_integer(field.field_info.annotation)
        ]
        if integers:
            found += [(m, str(context.path), " ".join(integers)) for m in sorted(route.methods)]
    assert len(found) > 10, "the routes were not found"
    return sorted(found)


def _route(app: FastAPI, method: str, path: str) -> tuple[APIRoute, dict[str, Any]]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path == path and method in route.methods:
            return route, {field.name: field for _, field in _fields(route.dependant)}
    raise LookupError(path)


@pytest.fixture
def caller(engine: Engine, settings: Settings, app: FastAPI) -> Iterator[Staff]:
    """An admin with a web chat going, and a conversation in the queue."""
    admin = make_staff(engine, app, "fuzz-admin@example.org", role="admin").login()
    with Session(engine) as session:
        add_conversation(session, settings, address="4242", text="hallo")
        session.commit()
    assert admin.client.get("/try").status_code == 200
    said = admin.client.post("/try/messages", json={"id": uuid.uuid4().hex, "text": "hello"})
    assert said.status_code == 202
    yield admin
    admin.client.close()


@pytest.mark.parametrize(("method", "path", "integers"), routes_taking_integers())
def test_any_integer_in_a_path_query_or_form_is_answered_never_a_server_error(
    app: FastAPI, caller: Staff, method: str, path: str, integers: str
) -> None:
    route, fields = _route(app, method, path)
    # A stream runs for half a minute: it gets only the numbers refused before it starts.
    numbers = out_of_range_integers if _streams(route) else any_integers
    token = csrf_token(caller.client, "/console/queue")

    @FUZZ
    @given(values=st.fixed_dictionaries({name.split(":")[1]: numbers for name in integers.split()}))
    def answers(values: dict[str, int]) -> None:
        url = path.format(**{name: values.get(name, "x") for name in _path_names(path)})
        query = {name: str(value) for name, value in values.items() if f"query:{name}" in integers}
        form = {
            name: str(values.get(name, "x")) for name, field in fields.items() if _in_form(field)
        }
        if method == "GET":
            response = caller.client.get(url, params=query, follow_redirects=False)
        else:
            response = caller.client.post(
                url, params=query, data={**form, "csrf_token": token}, follow_redirects=False
            )

        assert response.status_code < 500, (method, url, query, form, response.text[:300])

    answers()


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _in_form(field: Any) -> bool:
    return type(field.field_info).__name__ == "Form"


@FUZZ
@given(
    year=any_integers,
    month=any_integers,
    which=st.sampled_from(["year", "month"]),
    path=st.sampled_from(["/console/stats", "/console/stats/report.csv"]),
)
def test_any_year_or_month_on_the_statistics_pages_is_a_page_or_a_400(
    caller: Staff, year: int, month: int, which: str, path: str
) -> None:
    """The period is read from the query by hand (``chosen_period``), not declared."""
    query = {"year": str(year)} if which == "year" else {"month": f"{year}-{month}"}

    response = caller.get(f"{path}?{'&'.join(f'{k}={v}' for k, v in query.items())}")

    assert response.status_code in (200, 400), (query, response.text[:300])
