"""``helpline db``: the database schema."""

from __future__ import annotations

import typer
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot import db
from bot.config import Settings, get_settings

app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply all migrations to the database in HELPLINE_DATABASE_URL."""
    settings = get_settings()
    db.upgrade(settings.database_url, revision)
    typer.echo(f"database at {db.head_revision() if revision == 'head' else revision}")
    if revision == "head":
        _first_knowledge(settings)


KNOWLEDGE_LOCK = 727275  # beside the migrations' own (727274, bot/migrations/env.py)


def _first_knowledge(settings: Settings) -> None:
    """The first upgrade loads knowledge/ into the database, where staff edit it."""
    from bot.kb import store

    try:
        with db.database_session(settings.database_url) as session:
            if session.get_bind().dialect.name == "postgresql":
                # Instances started together upgrade together: one loads, the others
                # wait here, then find it loaded (the lock ends with the transaction).
                session.exec(text(f"SELECT pg_advisory_xact_lock({KNOWLEDGE_LOCK})"))  # type: ignore[call-overload]
            if not store.is_empty(session):
                return
            result = store.import_directory(session, settings.knowledge_dir)
    except IntegrityError:
        # SQLite has no such lock: another instance loaded it first, and its rows won.
        return
    except store.KbEditError as exc:
        typer.echo(
            f"knowledge base not loaded: {settings.knowledge_dir} fails validation "
            f"({len(exc.errors)} errors; see helpline kb validate)",
            err=True,
        )
        return
    typer.echo(f"knowledge base loaded: {len(result.added)} topics, version {result.version}")


@app.command("current")
def current() -> None:
    """Print the database's migration and whether it is up to date."""
    engine = db.make_engine(get_settings().database_url)
    ready, detail = db.is_ready(engine)
    typer.echo(f"{db.current_revision(engine)} ({detail})")
    raise typer.Exit(0 if ready else 1)
