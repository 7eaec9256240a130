"""``helpline staff``: accounts for the staff console."""

from __future__ import annotations

import sys

import typer

from bot import db
from bot.config import get_settings
from bot.console.accounts import (
    AccountError,
    all_staff,
    create_staff,
    deactivate,
    set_broadcaster,
    set_password,
)

app = typer.Typer(help="Staff accounts for the console.", no_args_is_help=True)


def read_password() -> str:
    """From a hidden prompt (twice) on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@app.command("add")
def add(
    email: str = typer.Argument(..., help="Login e-mail address."),
    role: str = typer.Option(
        "staff", help="staff, editor (also edits the knowledge base) or admin."
    ),
    name: str = typer.Option("", help="Name shown to colleagues."),
    locale: str = typer.Option("nl", help="Console language: nl, fr or en."),
    broadcaster: bool = typer.Option(False, "--broadcaster", help="May send broadcasts."),
) -> None:
    """Create a console account; the password comes from a prompt or from stdin."""
    password = read_password()
    try:
        with db.database_session(get_settings().database_url) as session:
            user = create_staff(
                session,
                email,
                password,
                role=role,
                name=name,
                locale=locale,
                can_broadcast=broadcaster,
            )
            typer.echo(f"created {user.role} account {user.email}")
    except AccountError as exc:
        raise _fail(str(exc)) from exc


@app.command("list")
def list_accounts() -> None:
    """Every account, with its role and whether it can log in."""
    with db.database_session(get_settings().database_url) as session:
        for user in all_staff(session):
            state = "active" if user.active else "deactivated"
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
            typer.echo(f"{user.email}\t{user.role}\t{state}\tlast login: {last}\t{user.name}")


@app.command("password")
def password(email: str = typer.Argument(..., help="Login e-mail address.")) -> None:
    """Set a new password (prompt or stdin); clears failed logins and ends its sessions."""
    new_password = read_password()
    try:
        with db.database_session(get_settings().database_url) as session:
            set_password(session, email, new_password, settings=get_settings())
    except AccountError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"new password set for {email}")


@app.command("deactivate")
def deactivate_account(email: str = typer.Argument(..., help="Login e-mail address.")) -> None:
    """Stop an account from logging in (its history stays)."""
    try:
        with db.database_session(get_settings().database_url) as session:
            deactivate(session, email)
    except AccountError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{email} can no longer log in")


@app.command("broadcaster")
def broadcaster(
    email: str = typer.Argument(..., help="Login e-mail address."),
    off: bool = typer.Option(False, "--off", help="Take the permission away."),
) -> None:
    """Let an account send broadcasts (admins may anyway), or with --off no longer."""
    try:
        with db.database_session(get_settings().database_url) as session:
            set_broadcaster(session, email, allowed=not off)
    except AccountError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{email} {'can no longer' if off else 'can'} send broadcasts")
