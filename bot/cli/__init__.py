"""The ``helpline`` command.

Each group of commands lives in its own module here and is registered below with
one line; a command is a thin layer over a function in the package.
"""

from __future__ import annotations

import typer

from bot.cli import chat, db, demo, kb, nlu, privacy, rasa, serve, staff, stats, telegram, worker

app = typer.Typer(
    help="helpline: a multilingual chatbot service for a refugee information line.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(kb.app, name="kb")
app.command("match")(nlu.match)
app.command("eval")(nlu.evaluate)
app.command("serve")(serve.serve)
app.command("chat")(chat.chat)
app.add_typer(privacy.retention_app, name="retention")
app.add_typer(privacy.contact_app, name="contact")
app.command("stats")(stats.stats)
app.add_typer(stats.contacts_app, name="contacts")
app.add_typer(rasa.app, name="rasa")
app.add_typer(telegram.app, name="telegram")
app.command("worker")(worker.worker)
app.add_typer(staff.app, name="staff")
app.command("demo")(demo.demo)


def main() -> None:
    app()
