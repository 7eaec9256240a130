"""``helpline kb``: check the knowledge base, and move it between ``knowledge/`` and the
database (where staff edit it in the console)."""

from __future__ import annotations

from pathlib import Path

import typer

from bot import db
from bot.config import get_settings

app = typer.Typer(
    help="Check the knowledge base; import knowledge/ into the database, export it back.",
    no_args_is_help=True,
)

DirArgument = typer.Argument(None, help="Knowledge directory (default: HELPLINE_KNOWLEDGE_DIR).")


def _directory(directory: Path | None) -> Path:
    if directory is not None:
        return directory
    return get_settings().knowledge_dir


@app.command("validate")
def validate(
    directory: Path | None = DirArgument,
    database: bool = typer.Option(
        False, "--database", help="Check the knowledge base published in the database."
    ),
) -> None:
    """Report errors (exit status 1) and warnings (overdue reviews) in the knowledge base."""
    from bot.nlu.knowledge import shared_topics_file, validate_texts
    from bot.nlu.knowledge import validate as check

    settings = get_settings()
    if database:
        from bot.kb import store

        with db.database_session(get_settings().database_url) as session:
            current = store.published(session)
        if current is None:
            typer.echo("error: nothing is published in the database", err=True)
            raise typer.Exit(1)
        shared = shared_topics_file(settings.knowledge_dir)
        errors, warnings = validate_texts(current.texts, shared_topics=shared)
        where, count = f"database (version {current.version})", len(current.texts)
    else:
        path = _directory(directory)
        errors, warnings = check(path)
        where, count = str(path), len(list(path.glob("*.yaml")))
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    for error in errors:
        typer.echo(f"error: {error}", err=True)
    typer.echo(f"{where}: {count} topics, {len(errors)} errors, {len(warnings)} warnings")
    raise typer.Exit(1 if errors else 0)


@app.command("import")
def import_(
    directory: Path | None = DirArgument,
    keep_missing: bool = typer.Option(
        False, "--keep-missing", help="Keep topics the folder lacks (default: remove them)."
    ),
) -> None:
    """Publish what differs between a knowledge/ folder and the database.

    Each changed topic becomes a revision by the system user "system:kb-import"; a running
    service answers with it within seconds. A folder that fails validation is refused.
    Prints one JSON object: added, changed, removed, unchanged, version.
    """
    import json

    from bot.kb import store

    path = _directory(directory)
    try:
        with db.database_session(get_settings().database_url) as session:
            result = store.import_directory(session, path, remove_missing=not keep_missing)
    except store.KbEditError as exc:
        for error in exc.errors:
            typer.echo(f"error: {error}", err=True)
        typer.echo(f"{path}: not imported ({len(exc.errors)} errors)", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(result.as_dict()))


@app.command("export")
def export(
    directory: Path = typer.Argument(..., help="Folder to write (created if needed)."),
) -> None:
    """Write the published knowledge base as a knowledge/ folder: unchanged topics byte
    for byte as imported, so that a team can keep it in git."""
    from bot.kb import store

    with db.database_session(get_settings().database_url) as session:
        if store.published(session) is None:
            typer.echo("error: nothing is published in the database", err=True)
            raise typer.Exit(1)
        written = store.export_directory(session, directory)
    typer.echo(f"{directory}: {len(written)} files written")


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
