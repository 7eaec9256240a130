"""``helpline rasa``: the knowledge base as a Rasa NLU project (see docs/rasa.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.config import get_settings

app = typer.Typer(help="Use Rasa Open Source as the NLU backend.", no_args_is_help=True)


@app.command("export")
def export(
    directory: Path = typer.Argument(..., help="Where to write the Rasa project."),
    knowledge_dir: Path | None = typer.Option(
        None, "--knowledge", help="Knowledge directory (default: HELPLINE_KNOWLEDGE_DIR)."
    ),
) -> None:
    """Write config.yml, domain.yml and data/nlu.yml: one intent per topic, six languages."""
    from bot.nlu.knowledge import KnowledgeError, load_knowledge
    from bot.nlu.rasa import RasaExportError, export_project, intent_topics

    path = knowledge_dir or get_settings().knowledge_dir
    assert path is not None
    try:
        knowledge = load_knowledge(path)
        written = export_project(knowledge, directory)
    except (KnowledgeError, RasaExportError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for file in written:
        typer.echo(f"wrote {file}")
    typer.echo(f"{len(intent_topics(knowledge))} intents from {path}")
