"""`helpline db upgrade` from an empty database reaches exactly the models' schema."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
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
