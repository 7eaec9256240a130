"""``helpline keys``: the data key that encrypts phone numbers and Telegram ids."""

from __future__ import annotations

import typer

from bot import db
from bot.config import forget_old_data_keys, get_settings, kept_secrets
from bot.privacy.addresses import rotate_addresses

app = typer.Typer(help="The data key that encrypts stored addresses.", no_args_is_help=True)


@app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored address under the current data key (HELPLINE_DATA_KEY).

    Addresses stored under an old key (HELPLINE_OLD_DATA_KEYS, or the key older
    versions derived from the placeholder secret) are re-encrypted and re-hashed;
    afterwards the old keys are no longer needed. Safe while the service runs.
    """
    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    try:
        result = rotate_addresses(engine, settings)
    finally:
        engine.dispose()
    typer.echo(
        f"re-encrypted {result.re_encrypted} address(es) under the current data key; "
        f"{result.current} already were"
    )
    if result.unreadable or result.duplicates:
        if result.unreadable:
            typer.echo(
                f"{len(result.unreadable)} address(es) no configured key can read (contact "
                f"ids {_ids(result.unreadable)}): add the key they were stored under to "
                "HELPLINE_OLD_DATA_KEYS and run this again",
                err=True,
            )
        if result.duplicates:
            typer.echo(
                f"{len(result.duplicates)} contact(s) left under an old key: the same "
                f"person is also stored under the current one (contact ids "
                f"{_ids(result.duplicates)})",
                err=True,
            )
        typer.echo("keep the old keys until these are resolved", err=True)
        raise typer.Exit(1)
    remaining = set(settings.data_keys[1:])
    path = settings.secrets_path
    if path.exists() and kept_secrets(path).data_key == settings.data_key:
        dropped = forget_old_data_keys(path)
        remaining -= set(dropped)
        if dropped:
            typer.echo(f"dropped {len(dropped)} old data key(s) from {path}")
    if remaining:
        typer.echo(
            "every address is under the current data key: remove HELPLINE_OLD_DATA_KEYS "
            "and restart the instances"
        )


def _ids(ids: list[int], shown: int = 20) -> str:
    return ", ".join(map(str, ids[:shown])) + (", ..." if len(ids) > shown else "")
