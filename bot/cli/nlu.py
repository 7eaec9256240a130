"""``helpline match`` and ``helpline eval``: the matcher from the command line.

``match`` reads JSON lines ``{"text": ..., "lang": optional chosen language}`` on
stdin and writes one JSON line per input, in order:
``{"topic": "asylum.dublin" or null, "score": 0.0-1.0, "lang": "ps"}``. A line that is
not such an object gets ``{"error": ...}`` in its place, so outputs stay in step.
Both read the knowledge base published in the database when there is one, else
``knowledge/`` (``bot.kb.live``; no database is created to find out). Heavy imports
happen inside the commands: the first answer comes quickly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.config import get_settings

if TYPE_CHECKING:
    from bot.nlu import Matcher


def _answer(matcher: Matcher, line: str) -> dict[str, Any]:
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"not JSON: {exc.msg}"}
    if not isinstance(request, dict) or not isinstance(request.get("text"), str):
        return {"error": 'expected an object with a "text" string'}
    lang = request.get("lang")
    if lang is not None and not isinstance(lang, str):
        return {"error": '"lang" must be a language code or absent'}
    found = matcher.match(request["text"], lang)
    return {"topic": found.topic, "score": found.score, "lang": found.lang}


def match() -> None:
    """Match JSON lines from stdin; write one JSON line per input to stdout."""
    from bot.kb import live

    matcher = live.matcher(get_settings())
    for line in sys.stdin:
        if not line.strip():
            continue
        sys.stdout.write(json.dumps(_answer(matcher, line), ensure_ascii=False) + "\n")
        sys.stdout.flush()


def evaluate(
    file: Path | None = typer.Argument(
        None, exists=True, dir_okay=False, help="Labelled JSON lines."
    ),
    staff_examples: bool = typer.Option(
        False,
        "--staff-examples",
        help="Score the examples staff added from the learning inbox, held out: the "
        "matcher is trained on the published knowledge base without them.",
    ),
) -> None:
    """Score the matcher on FILE: top-1, urgent recall, nulls answered, language, latency."""
    from bot.kb import live
    from bot.nlu import evaluation

    if staff_examples:
        if file is not None:
            typer.echo("error: give FILE or --staff-examples, not both", err=True)
            raise typer.Exit(2)
        _evaluate_staff_examples()
        return
    if file is None:
        typer.echo("error: missing FILE (or --staff-examples)", err=True)
        raise typer.Exit(2)
    try:
        items = evaluation.read_items(file)
    except evaluation.EvalFormatError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    matcher = live.matcher(get_settings())
    if items:
        matcher.match(items[0].text)  # warm up: the first call loads lazily
    table = evaluation.score_by_language(evaluation.run(matcher.match, items))
    typer.echo(evaluation.format_table(table))


def _evaluate_staff_examples() -> None:
    """The staff examples, scored by a matcher trained without them (the same table)."""
    from bot import db
    from bot.kb import heldout, store
    from bot.nlu import evaluation
    from bot.nlu.matcher import Matcher

    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            held = heldout.items(store.staff_examples(session))
            knowledge, version = heldout.current_knowledge(session, settings)
    finally:
        engine.dispose()
    if not held:
        typer.echo("no examples added by staff yet", err=True)
        raise typer.Exit(1)
    matcher = Matcher.train(heldout.without(knowledge, held))
    source = f"published version {version}" if version else "knowledge/"
    typer.echo(f"{len(held)} staff examples, held out of {source}", err=True)
    table = evaluation.score_by_language(evaluation.run(matcher.match, held))
    typer.echo(evaluation.format_table(table))
