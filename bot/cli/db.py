"""``helpline db``: the database schema."""

from __future__ import annotations

import typer

from bot import db
from bot.config import get_settings

app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply all migrations to the database in HELPLINE_DATABASE_URL."""
    settings = get_settings()
    db.upgrade(settings.database_url, revision)
    typer.echo(f"database at {db.head_revision() if revision == 'head' else revision}")


@app.command("current")
def current() -> None:
    """Print the database's migration and whether it is up to date."""
    engine = db.make_engine(get_settings().database_url)
    ready, detail = db.is_ready(engine)
    typer.echo(f"{db.current_revision(engine)} ({detail})")
    raise typer.Exit(0 if ready else 1)
