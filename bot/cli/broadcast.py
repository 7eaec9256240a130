"""``helpline broadcast``: send a message to many people, each in their language.

Scripts rely on ``send`` and ``report --json`` printing one JSON object each.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
import yaml

from bot import db
from bot.broadcasts import report as reports
from bot.broadcasts.audience import Audience, AudienceError, count_by_language, summary
from bot.broadcasts.sending import BroadcastError, cancel, clean_texts, create
from bot.config import LANGUAGES, get_settings
from bot.models import Broadcast, utcnow

app = typer.Typer(
    help="Messages to many people at once, each in their language.", no_args_is_help=True
)

CHANNELS = typer.Option(None, "--channel", help="whatsapp or telegram (repeat for both)")
LANGUAGE = typer.Option(None, "--language", help="only people in this language (repeatable)")
TOPICS = typer.Option(
    None, "--topic", help="people whose conversations touched this topic (or one below it)"
)
TOPIC_DAYS = typer.Option(60, "--topic-days", help="... within this many days")
SINCE_DAYS = typer.Option(None, "--since-days", help="people who wrote within this many days")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _audience(
    channels: list[str] | None,
    languages: list[str] | None,
    topics: list[str] | None,
    topic_days: int,
    since_days: int | None,
) -> Audience:
    try:
        return Audience(
            channels=tuple(channels or ()),
            languages=tuple(languages or ()),
            topics=tuple(topics or ()),
            topic_days=topic_days,
            since_days=since_days,
        )
    except AudienceError as exc:
        raise _fail(str(exc)) from exc


def _read_texts(path: Path) -> dict[str, str]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise _fail(f"{path}: expected language codes ({' '.join(LANGUAGES)}) mapped to texts")
    try:
        return clean_texts({str(k): v for k, v in data.items()})
    except BroadcastError as exc:
        raise _fail(f"{path}: {exc}") from exc


def _parse_time(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"--at: not an ISO time: {value}") from exc
    if when.tzinfo is None:
        raise _fail("--at: give the offset too, e.g. 2026-12-04T09:00+01:00")
    return when


def _echo(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, sort_keys=True))


@app.command("send")
def send(
    text_file: Path = typer.Option(..., "--text-file", help="YAML: language code -> text"),
    channels: list[str] | None = CHANNELS,
    languages: list[str] | None = LANGUAGE,
    topics: list[str] | None = TOPICS,
    topic_days: int = TOPIC_DAYS,
    since_days: int | None = SINCE_DAYS,
    link: str | None = typer.Option(None, "--link", help="a knowledge-base topic to offer"),
    at: str | None = typer.Option(
        None, "--at", help="when, ISO 8601 with its offset: 2026-12-04T09:00+01:00"
    ),
    in_opening_hours: bool = typer.Option(
        False, "--in-opening-hours", help="not before the helpline opens"
    ),
    yes: bool = typer.Option(False, "--yes", help="send without asking"),
) -> None:
    """Queue a broadcast; prints {"id", "targeted", "by_language", ...} as JSON."""
    texts = _read_texts(text_file)
    when = _parse_time(at) if at else None
    audience = _audience(channels, languages, topics, topic_days, since_days)
    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    try:
        if not yes:
            with db.session_scope(engine) as session:
                counts = summary(count_by_language(session, audience, now=utcnow()), texts)
            typer.confirm(f"Send to {counts['targeted']} people?", abort=True)
        with db.session_scope(engine) as session:
            try:
                broadcast, counts = create(
                    session,
                    settings,
                    staff_id=None,
                    texts=texts,
                    audience=audience,
                    topic=link,
                    at=when,
                    in_opening_hours=in_opening_hours,
                )
            except BroadcastError as exc:
                raise _fail(str(exc)) from exc
            _echo(
                {
                    "id": broadcast.id,
                    "status": broadcast.status,
                    "scheduled_at": broadcast.scheduled_at.isoformat(),
                    **counts,
                }
            )
    finally:
        engine.dispose()


@app.command("count")
def count(
    channels: list[str] | None = CHANNELS,
    languages: list[str] | None = LANGUAGE,
    topics: list[str] | None = TOPICS,
    topic_days: int = TOPIC_DAYS,
    since_days: int | None = SINCE_DAYS,
) -> None:
    """How many people these filters reach, per language (JSON)."""
    audience = _audience(channels, languages, topics, topic_days, since_days)
    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            counts = count_by_language(session, audience, now=utcnow())
        _echo({"audience": sum(counts.values()), "by_language": counts})
    finally:
        engine.dispose()


@app.command("report")
def report(
    broadcast_id: int = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of CSV"),
) -> None:
    """How a broadcast went, per language: CSV, or JSON with --json."""
    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            broadcast = session.get(Broadcast, broadcast_id)
            if broadcast is None:
                raise _fail(f"no broadcast {broadcast_id}")
            if as_json:
                _echo(reports.as_dict(session, broadcast))
            else:
                typer.echo(reports.as_csv(session, broadcast), nl=False)
    finally:
        engine.dispose()


@app.command("cancel")
def cancel_command(broadcast_id: int = typer.Argument(...)) -> None:
    """Stop what is not sent yet."""
    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            try:
                stopped = cancel(session, broadcast_id, staff_id=None, now=utcnow())
            except LookupError as exc:
                raise _fail(f"no broadcast {broadcast_id}") from exc
        _echo({"id": broadcast_id, "status": "cancelled", "not_sent": stopped})
    finally:
        engine.dispose()


@app.command("list")
def list_broadcasts() -> None:
    """Every broadcast, newest first: id, status, time, languages, targeted."""
    from sqlmodel import col, select

    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            for b in session.exec(select(Broadcast).order_by(col(Broadcast.id).desc())).all():
                when = b.scheduled_at.strftime("%Y-%m-%d %H:%M")
                languages = ",".join(sorted(b.texts))
                typer.echo(f"{b.id}\t{b.status}\t{when}\t{languages}\t{b.targeted}")
    finally:
        engine.dispose()
