"""``helpline kb``: check the knowledge base before the bot uses it."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.config import get_settings

app = typer.Typer(help="Check the knowledge base in knowledge/.", no_args_is_help=True)

DirArgument = typer.Argument(None, help="Knowledge directory (default: HELPLINE_KNOWLEDGE_DIR).")


def _directory(directory: Path | None) -> Path:
    if directory is not None:
        return directory
    return get_settings().knowledge_dir


@app.command("validate")
def validate(directory: Path | None = DirArgument) -> None:
    """Report errors (exit status 1) and warnings (overdue reviews) in the knowledge base."""
    from bot.nlu.knowledge import validate as check

    path = _directory(directory)
    errors, warnings = check(path)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    for error in errors:
        typer.echo(f"error: {error}", err=True)
    count = len(list(path.glob("*.yaml")))
    typer.echo(f"{path}: {count} topics, {len(errors)} errors, {len(warnings)} warnings")
    raise typer.Exit(1 if errors else 0)


@app.command("coverage")
def coverage(directory: Path | None = DirArgument) -> None:
    """Print a table of topics x languages: ok, missing, overdue or few examples."""
    from bot.nlu.knowledge import LANGUAGES
    from bot.nlu.knowledge import coverage as table_of

    ids, table = table_of(_directory(directory))
    width = max([len("topic"), *map(len, ids)])
    cell = max(len(state) for state in ("ok", "missing", "overdue", "few examples"))
    typer.echo("topic".ljust(width) + "  " + "  ".join(lang.ljust(cell) for lang in LANGUAGES))
    for topic_id in ids:
        row = table[topic_id]
        typer.echo(
            topic_id.ljust(width) + "  " + "  ".join(row[lang].ljust(cell) for lang in LANGUAGES)
        )
    complete = sum(all(state == "ok" for state in table[t].values()) for t in ids)
    typer.echo(f"{complete}/{len(ids)} topics complete in every language")
