"""``helpline demo``: a demo staff account and a queue to look at (`make run`)."""

from __future__ import annotations

import typer

from bot import db
from bot.config import get_settings
from bot.demo import load_demo
from bot.models import utcnow


def demo() -> None:
    """Create the demo staff account and demo conversations (once; safe to repeat)."""
    settings = get_settings()
    if settings.env == "production":
        typer.echo("refusing to load demo data in production", err=True)
        raise typer.Exit(1)
    if not settings.demo:
        typer.echo("HELPLINE_DEMO is off: no demo data loaded")
        return
    engine = db.make_engine(settings.database_url)
    try:
        result = load_demo(engine, settings, now=utcnow())
    finally:
        engine.dispose()
    if result.password is not None:
        typer.echo("")
        typer.echo("  Demo staff account for http://localhost:8000/console (shown only once):")
        typer.echo(f"    e-mail:   {result.email}")
        typer.echo(f"    password: {result.password}")
        typer.echo("  Set a new one with: helpline staff password " + result.email)
        typer.echo("")
    else:
        typer.echo(f"demo account {result.email} already exists (its password was shown once)")
    typer.echo(f"demo conversations added: {result.conversations}")
