"""`helpline db upgrade` from an empty database reaches exactly the models' schema."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel

import bot.models  # noqa: F401
from bot import db


def test_migrations_reach_the_models_schema_without_drift(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_creates_every_table_and_records_the_head(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert db.current_revision(engine) == db.head_revision()


def test_upgrade_twice_is_harmless(database_url: str, engine: Engine) -> None:
    db.upgrade(database_url)
    assert db.current_revision(engine) == db.head_revision()


def test_a_database_at_the_first_release_upgrades_and_keeps_its_staff(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'release-0001.db'}"
    db.upgrade(url, "0001")
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO staff_user (email, name, password_hash, role, locale, active,"
                    " failed_logins, created_at, session_epoch)"
                    " VALUES ('ada@example.org', 'Ada', 'x', 'admin', 'nl', 1, 3,"
                    " '2026-11-30 09:00:00', 0)"
                )
            )
        db.upgrade(url)
        inspector = inspect(engine)
        assert "login_throttle" in inspector.get_table_names()
        columns = {c["name"] for c in inspector.get_columns("staff_user")}
        assert not columns & {"failed_logins", "locked_until"}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT email FROM staff_user")).scalars().all() == [
                "ada@example.org"
            ]
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()
