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


def test_0004_recomputes_the_statistics_from_the_messages(tmp_path: Path) -> None:
    """The bot's reply no longer counts as the first staff answer; a conversation taken
    but not answered is not handled by staff; the handoff time and outcome are copied."""
    url = f"sqlite:///{tmp_path / 'release-0003.db'}"
    db.upgrade(url, "0003")
    engine = db.make_engine(url)
    rows = [
        "INSERT INTO contact (id, channel, address_hash, address_enc, language_chosen, flow_data,"
        " blocked, created_at) VALUES (1, 'telegram', 'h', 'e', 0, '{}', 0, '2025-03-04 09:00:00')",
        *(
            "INSERT INTO conversation (id, contact_id, channel, owner, urgent, opened_at,"
            " last_message_at, queued_at, claimed_at, first_response_at, outcome)"
            f" VALUES ({id_}, 1, 'telegram', '{owner}', 0, '2025-03-04 09:00:00',"
            " '2025-03-04 09:20:00', '2025-03-04 09:01:00', '2025-03-04 09:02:00',"
            f" '2025-03-04 09:00:04', {outcome})"
            for id_, owner, outcome in ((1, "closed", "'answered'"), (2, "staff", "NULL"))
        ),
        *(
            "INSERT INTO message (conversation_id, channel, direction, sender, status, attempts,"
            f" created_at) VALUES ({id_}, 'telegram', 'out', '{sender}', 'sent', 0, '{at}')"
            for id_, sender, at in (
                (1, "bot", "2025-03-04 09:00:04"),
                (1, "staff", "2025-03-04 09:05:00"),
                (2, "bot", "2025-03-04 09:00:04"),
            )
        ),
        *(
            "INSERT INTO contact_record (conversation_id, channel, handled_by, handed_off, urgent,"
            " started_at, first_response_at, source, created_at) VALUES"
            f" ({id_}, 'telegram', 'staff', 1, 0, '2025-03-04 09:00:00', '2025-03-04 09:00:04',"
            " 'live', '2025-03-04 09:00:00')"
            for id_ in (1, 2)
        ),
    ]
    try:
        with engine.begin() as conn:
            for row in rows:
                conn.execute(text(row))
        db.upgrade(url)
        with engine.connect() as conn:
            records = conn.execute(
                text(
                    "SELECT conversation_id, handled_by, handed_off_at, first_response_at,"
                    " bot_first_response_at, outcome FROM contact_record ORDER BY conversation_id"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(c[:19] if isinstance(c, str) else c for c in row) for row in records] == [
        (
            1,
            "staff",
            "2025-03-04 09:01:00",
            "2025-03-04 09:05:00",
            "2025-03-04 09:00:04",
            "answered",
        ),
        (2, "bot", "2025-03-04 09:01:00", None, "2025-03-04 09:00:04", None),
    ]
