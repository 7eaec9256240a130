"""How long the statistics take for 100,000 contact records.

    .venv/bin/python -m bench.stats                      # SQLite in a temporary file
    .venv/bin/python -m bench.stats --database-url postgresql://postgres@127.0.0.1:5432/test

Generates a year of records (phone, e-mail, Q&A sessions and chat conversations with
response and closing times, handled by the bot or by staff), then times the yearly
report's queries, its JSON, the console page, and the exports; prints the query plan
of the main grouped query so you can see it ranges over the index. The PostgreSQL run
uses a scratch database that it creates and drops.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, insert, text
from sqlmodel import Session

from bot import db
from bot.models import ContactRecord
from bot.stats.exports import records_csv, records_xlsx, report_csv, report_xlsx
from bot.stats.reports import Period, build_report, report_json

TZ = ZoneInfo("Europe/Brussels")
YEAR = 2024
LANGUAGES = ("nl", "fr", "en", "uk", "ps", "fa")
TOPICS = (
    "asylum.apply",
    "asylum.procedure",
    "reception.no_place",
    "family.reunification",
    "ukraine.temporary_protection",
    "work.permission",
    "health.medical_care",
    None,
)


def generate(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(YEAR, 1, 1, tzinfo=TZ).astimezone(UTC)
    seconds = int((datetime(YEAR + 1, 1, 1, tzinfo=TZ).astimezone(UTC) - start).total_seconds())
    for _ in range(count):
        started = start + timedelta(seconds=rng.randrange(seconds))
        channel = rng.choices(
            ("whatsapp", "telegram", "webchat", "phone", "email", "qa_session"),
            (40, 20, 5, 25, 10, 0.05),
        )[0]
        row: dict[str, Any] = {
            "channel": channel,
            "language": rng.choice(LANGUAGES),
            "topic": rng.choice(TOPICS),
            "handled_by": "staff",
            "handed_off": False,
            "urgent": False,
            "started_at": started,
            "first_response_at": None,
            "closed_at": None,
            "minutes": None,
            "participants": None,
            "source": "console",
            "created_at": started,
        }
        if channel in ("whatsapp", "telegram", "webchat"):
            handed_off = rng.random() < 0.35
            row.update(
                source="live",
                handed_off=handed_off,
                handled_by="staff" if handed_off and rng.random() < 0.9 else "bot",
                closed_at=started + timedelta(minutes=rng.randrange(1, 600)),
            )
            if row["handled_by"] == "staff":
                row["first_response_at"] = started + timedelta(minutes=rng.randrange(1, 240))
        elif channel == "qa_session":
            row["participants"] = rng.randrange(5, 70)
        else:
            row["minutes"] = rng.randrange(1, 40)
        yield row


def fill(engine: Engine, count: int) -> None:
    rows = list(generate(count))
    with Session(engine) as session:
        for index in range(0, len(rows), 5000):
            session.execute(insert(ContactRecord), rows[index : index + 5000])
        session.commit()
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def timed(name: str, fn: Callable[[], Any], runs: int) -> Any:
    durations, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = fn()
        durations.append(time.perf_counter() - began)
    print(f"{name:<34} {statistics.median(durations) * 1000:9.1f} ms  (median of {runs})")
    return result


def query_plans(engine: Engine) -> None:
    """How the database runs each of the report's queries (SQLite: which index)."""
    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", keep)
    with Session(engine) as session:
        build_report(session, Period.year(YEAR), TZ)
    event.remove(engine, "before_cursor_execute", keep)
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        for statement, params in statements:
            plan = connection.exec_driver_sql(explain + statement, params).all()
            steps = [str(row[-1] if engine.dialect.name == "sqlite" else row[0]) for row in plan]
            print(f"  {' '.join(statement.split())[:60]}...")
            print(f"      {' | '.join(step.strip() for step in steps)[:220]}")


def console_page(engine: Engine, database_url: str) -> Callable[[], Any]:
    """A GET of /console/stats?year=2024 by a logged-in staff member (queries + HTML)."""
    from fastapi.testclient import TestClient

    from bot.app import create_app
    from bot.config import Settings
    from bot.console.auth import hash_password
    from bot.models import StaffUser

    password = "bench-password-" + uuid.uuid4().hex
    with Session(engine) as session:
        session.add(
            StaffUser(email="bench@example.org", password_hash=hash_password(password), locale="nl")
        )
        session.commit()
    settings = Settings(env="test", database_url=database_url, run_worker=False)
    client = TestClient(create_app(settings, engine), headers={"accept": "text/html"})
    login = client.get("/console/login").text
    token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post(
        "/console/login",
        data={"email": "bench@example.org", "password": password, "csrf_token": token},
    )

    def get() -> int:
        response = client.get(f"/console/stats?year={YEAR}")
        assert response.status_code == 200 and "<svg" in response.text, response.status_code
        return len(response.text)

    return get


def run(database_url: str, count: int, runs: int) -> None:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    began = time.perf_counter()
    fill(engine, count)
    print(
        f"{engine.dialect.name}: {count:,} contact records in {time.perf_counter() - began:.1f} s"
    )
    period = Period.year(YEAR)
    print("query plans:")
    query_plans(engine)
    with Session(engine) as session:
        report = timed("report queries (year)", lambda: build_report(session, period, TZ), runs)
        timed(
            "report queries (one month)",
            lambda: build_report(session, Period.month(YEAR, 3), TZ),
            runs,
        )
        timed("JSON (queries + json)", lambda: report_json(build_report(session, period, TZ)), runs)
        timed("report CSV", lambda: report_csv(report), runs)
        timed("report XLSX", lambda: report_xlsx(report), runs)
    timed("console page /console/stats", console_page(engine, database_url), runs)
    timed("records CSV (every record)", lambda: sum(map(len, records_csv(engine, period, TZ))), 1)
    timed("records XLSX (every record)", lambda: len(records_xlsx(engine, period, TZ)), 1)
    staff = report.line("total")
    print(f"figures: staff {staff.total:,} ({staff.monthly_avg:,}/month), bot {report.bot_work}")
    engine.dispose()


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    if url is None:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    import psycopg

    admin = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"helpline_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server to use (default: SQLite)")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with scratch_database(args.database_url) as url:
        run(url, args.records, args.runs)


if __name__ == "__main__":
    main()
