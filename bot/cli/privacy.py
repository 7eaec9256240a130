"""``helpline retention`` and ``helpline contact``: data-subject requests and retention."""

from __future__ import annotations

import json

import typer
from sqlmodel import Session

from bot import audit, db
from bot.config import Settings, get_settings
from bot.conversations import find_contact
from bot.models import utcnow
from bot.privacy.erasure import erase_contact
from bot.privacy.export import export_contact
from bot.privacy.retention import purge_expired

retention_app = typer.Typer(help="Delete old message texts.", no_args_is_help=True)
contact_app = typer.Typer(
    help="Export or erase one person's data (requests by phone or e-mail).",
    no_args_is_help=True,
)

CHANNEL = typer.Option(..., help="whatsapp or telegram")
ADDRESS = typer.Option(
    ..., help="the phone number (whatsapp:+32...) or Telegram chat id, as the channel gives it"
)


@retention_app.command("run")
def run() -> None:
    """Delete texts and media of conversations closed longer ago than the retention period."""
    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    with db.session_scope(engine) as session:
        purged = purge_expired(session, settings, now=utcnow())
    typer.echo(
        f"purged {purged} conversation(s) closed more than {settings.retention_days} days ago"
    )


def _contact_id(session: Session, settings: Settings, channel: str, address: str) -> int:
    contact = find_contact(session, settings, channel, address)
    if contact is None or contact.id is None:
        typer.echo("no data is kept for this address", err=True)
        raise typer.Exit(1)
    return contact.id


def _audit(session: Session, action: audit.Action, contact_id: int) -> None:
    """A data-subject request made by phone or e-mail: in the audit log, by no staff."""
    detail = f"helpline contact {action.value}"
    audit.record(session, action, staff_id=None, target=f"contact:{contact_id}", detail=detail)


@contact_app.command("export")
def export(channel: str = CHANNEL, address: str = ADDRESS) -> None:
    """Print everything kept about one person, as JSON."""
    settings = get_settings()
    with db.session_scope(db.make_engine(settings.database_url)) as session:
        contact_id = _contact_id(session, settings, channel, address)
        exported = export_contact(session, settings, contact_id)
        _audit(session, audit.Action.export, contact_id)
        typer.echo(json.dumps(exported, ensure_ascii=False))


@contact_app.command("erase")
def erase(
    channel: str = CHANNEL,
    address: str = ADDRESS,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase one person's contact, conversations and messages (statistics stay anonymous)."""
    settings = get_settings()
    with db.session_scope(db.make_engine(settings.database_url)) as session:
        contact_id = _contact_id(session, settings, channel, address)
        if not yes:
            typer.confirm("Erase everything kept about this person?", abort=True)
        _audit(session, audit.Action.erase, contact_id)
        erase_contact(session, contact_id)
    typer.echo("erased")
