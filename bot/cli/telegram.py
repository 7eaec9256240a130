"""``helpline telegram``: register the webhook, or poll for updates during development."""

from __future__ import annotations

import asyncio
import logging

import anyio
import typer
from sqlalchemy import Engine
from telegram.error import TelegramError

from bot import db, inbox
from bot.channels.telegram import POLL_SECONDS, TelegramChannel, to_inbound
from bot.cli.running import run_until_stopped
from bot.config import Settings, get_settings
from bot.models import utcnow
from bot.ops import observability
from bot.worker import run_worker

app = typer.Typer(help="Telegram: webhook registration and local polling.", no_args_is_help=True)
log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


def _channel(settings: Settings) -> TelegramChannel:
    if not settings.telegram_token:
        typer.echo("HELPLINE_TELEGRAM_TOKEN is not set", err=True)
        raise typer.Exit(2)
    return TelegramChannel(settings)


async def set_webhook(settings: Settings, url: str) -> None:
    channel = _channel(settings)
    try:
        await channel.bot.set_webhook(
            url,
            secret_token=settings.telegram_webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )
    finally:
        await channel.aclose()


@app.command("set-webhook")
def set_webhook_command(
    url: str = typer.Option("", help="The webhook's public URL; default from HELPLINE_PUBLIC_URL."),
) -> None:
    """Tell Telegram to push updates to /webhooks/telegram with our secret token."""
    settings = get_settings()
    if not settings.telegram_webhook_secret:
        typer.echo("HELPLINE_TELEGRAM_WEBHOOK_SECRET is not set", err=True)
        raise typer.Exit(2)
    url = url or settings.public_url.rstrip("/") + "/webhooks/telegram"
    asyncio.run(set_webhook(settings, url))
    typer.echo(f"webhook set to {url}")


async def poll_once(
    engine: Engine, settings: Settings, channel: TelegramChannel, offset: int | None, *, wait: int
) -> int | None:
    """Fetch one batch of updates and store them like the webhook does; the next offset.

    The offset only moves past an update once it is stored, so a database error
    means Telegram hands the same update out again.
    """
    updates = await channel.bot.get_updates(
        offset=offset, timeout=wait, allowed_updates=ALLOWED_UPDATES
    )
    for update in updates:
        inbound = to_inbound(update, received_at=utcnow())
        if inbound is not None:
            await anyio.to_thread.run_sync(inbox.receive, engine, settings, inbound)
        if update.callback_query is not None:
            await channel.answer_callback(update.callback_query.id)
        offset = update.update_id + 1
    return offset


async def poll(engine: Engine, settings: Settings, stop: asyncio.Event, *, worker: bool) -> None:
    channel = _channel(settings)
    await channel.bot.delete_webhook()  # Telegram refuses getUpdates while a webhook is set
    tasks = []
    if worker:
        tasks.append(asyncio.create_task(run_worker(engine, settings, stop)))
    offset: int | None = None
    try:
        while not stop.is_set():
            batch = asyncio.create_task(
                poll_once(engine, settings, channel, offset, wait=POLL_SECONDS)
            )
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([batch, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not batch.done():
                batch.cancel()  # Ctrl-C during a long poll; unstored updates come again
                break
            try:
                offset = batch.result()
            except TelegramError as exc:
                log.warning("getUpdates failed: %s", exc)
                await asyncio.sleep(2)
            except Exception:
                log.exception("storing an update failed; it will be fetched again")
                await asyncio.sleep(2)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await channel.aclose()


@app.command("poll")
def poll_command(
    worker: bool = typer.Option(True, help="Also run the background jobs (sends the replies)."),
) -> None:
    """Development without a public URL: fetch updates with getUpdates (removes the webhook)."""
    settings = get_settings()
    observability.configure_logging(settings.log_level)  # JSON lines, the token masked
    engine = db.make_engine(settings.database_url)

    run_until_stopped(
        engine,
        "polling Telegram; Ctrl-C stops",
        lambda stop: poll(engine, settings, stop, worker=worker),
    )
