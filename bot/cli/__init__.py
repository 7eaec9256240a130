"""The ``helpline`` command.

Each group of commands lives in its own module here and is registered below with
one line. Modules are imported only when their command runs, so that
``helpline match`` does not pay for the web server, the flows or the console.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

# name: (module, attribute: a typer.Typer group or a command function)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("bot.cli.serve", "serve"),
    "worker": ("bot.cli.worker", "worker"),
    "db": ("bot.cli.db", "app"),
    "demo": ("bot.cli.demo", "demo"),
    "chat": ("bot.cli.chat", "chat"),
    "match": ("bot.cli.nlu", "match"),
    "eval": ("bot.cli.nlu", "evaluate"),
    "kb": ("bot.cli.kb", "app"),
    "staff": ("bot.cli.staff", "app"),
    "stats": ("bot.cli.stats", "stats"),
    "contacts": ("bot.cli.stats", "contacts_app"),
    "retention": ("bot.cli.privacy", "retention_app"),
    "contact": ("bot.cli.privacy", "contact_app"),
    "keys": ("bot.cli.keys", "app"),
    "telegram": ("bot.cli.telegram", "app"),
    "rasa": ("bot.cli.rasa", "app"),
    "broadcast": ("bot.cli.broadcast", "app"),
}


class LazyGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name]
        target = getattr(importlib.import_module(module), attribute)
        # Build it the way typer builds a registered command, so a group with one
        # subcommand (``helpline rasa export``) stays a group.
        holder = typer.Typer(add_completion=False, rich_markup_mode=None)
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=cmd_name)
        else:
            holder.command(cmd_name)(target)
        holder.callback()(_root)
        return typer.main.get_command(holder).commands[cmd_name]  # type: ignore[attr-defined]


app = typer.Typer(
    cls=LazyGroup,
    help="helpline: a multilingual chatbot service for a refugee information line.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """helpline: a multilingual chatbot service for a refugee information line."""


def main() -> None:
    app()
