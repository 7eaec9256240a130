"""The logs give away neither the bot's token nor a person's number.

httpx logs every request's URL at INFO: the Telegram Bot API carries the token in its
path (``/bot<token>/sendMessage``) and the outbox's Twilio lookup carries the
person's number in its query string. Logging is configured here as ``helpline
serve`` configures it (and then in ``helpline serve`` itself), and the real clients
talk to the fake providers.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from bench.load import free_port, stop, wait_until_up
from bot import db, outbox
from bot.channels import build_channels
from bot.config import Settings
from bot.db import session_scope
from bot.models import Conversation, utcnow
from bot.ops import observability
from tests.support.channels import (
    WEBHOOK_SECRET,
    fixture,
    new_conversation,
    post_telegram,
    post_whatsapp,
)
from tests.support.fakes.server import Fault
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI
from tests.support.serving import HELPLINE

CHAT = "5550001234"
DIGITS = "32478123456"
NUMBER = f"whatsapp:+{DIGITS}"


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """What the handler ``configure_logging`` installs writes, as production runs it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in list(root.manager.loggerDict)}
    observability.configure_logging("INFO")
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    output = io.StringIO()
    handler.setStream(output)
    yield output
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in list(root.manager.loggerDict):
        logging.getLogger(name).setLevel(levels.get(name, logging.NOTSET))


def enqueue(engine: Engine, settings: Settings, conversation: Conversation, text: str) -> None:
    with session_scope(engine) as session:
        outbox.enqueue(session, conversation, text, sender="bot", settings=settings)


async def test_sending_on_both_channels_logs_neither_the_token_nor_the_number(
    engine: Engine,
    settings: Settings,
    fake_telegram: FakeTelegramAPI,
    fake_twilio: FakeTwilioAPI,
    logged: io.StringIO,
) -> None:
    enqueue(engine, settings, new_conversation(engine, settings, "telegram", CHAT), "Hallo")
    enqueue(engine, settings, new_conversation(engine, settings, "whatsapp", NUMBER), "Hallo")
    fake_twilio.fail_next(Fault.hang())  # the send times out: Twilio is asked before a resend
    channels = build_channels(settings)
    now = utcnow()
    try:
        for _ in range(10):
            await outbox.send_due(engine, settings, now=now, channels=channels)
            if fake_twilio.sent and fake_telegram.sent:
                break
            now += timedelta(seconds=settings.outbox_backoff_max_seconds + 1)
    finally:
        await channels.aclose()

    assert [m.to for m in fake_twilio.sent] == [NUMBER]
    assert [m.chat_id for m in fake_telegram.sent] == [CHAT]
    assert len(fake_twilio.lookups()) == 1  # the lookup by number happened
    text = logged.getvalue()
    assert "will be retried" in text  # the outbox's own INFO lines are there
    assert fake_telegram.token not in text
    assert fake_telegram.token.split(":")[1] not in text
    assert DIGITS[2:] not in text


def test_a_url_or_number_that_reaches_the_handler_anyway_is_masked(
    settings: Settings, logged: io.StringIO
) -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    logging.getLogger("httpx").warning(
        "HTTP Request: POST https://api.telegram.org/bot%s/sendMessage", token
    )
    logging.getLogger("bot.test").error(
        "lookup failed for %s: GET /Messages.json?To=whatsapp%%3A%%2B%s&From=x",
        NUMBER,
        DIGITS,
    )
    try:
        raise RuntimeError(f"for url 'https://api.telegram.org/file/bot{token}/x' to {NUMBER}")
    except RuntimeError:
        logging.getLogger("bot.test").exception("failed")

    text = logged.getvalue()
    assert text.count('"level": ') == 3  # all three were logged, masked
    assert "/bot***/sendMessage" in text
    assert token.split(":")[1] not in text
    assert DIGITS[2:] not in text


def test_helpline_serve_logs_neither_the_token_nor_the_number(tmp_path: Path) -> None:
    """The same through ``helpline serve``: logging as uvicorn and our app set it up."""
    database = tmp_path / "helpline.db"
    db.upgrade(f"sqlite:///{database}")
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    with FakeTelegramAPI() as telegram, FakeTwilioAPI() as twilio:
        twilio.fail_next(Fault.hang())  # the first reply times out: Twilio is asked first
        signer = Settings(env="test", public_url=public_url)
        twilio.configure(signer)
        env = dict(
            os.environ,
            HELPLINE_DATABASE_URL=f"sqlite:///{database}",
            HELPLINE_PUBLIC_URL=public_url,
            HELPLINE_SECRET_KEY="log-redaction-test-secret",
            HELPLINE_LOG_LEVEL="INFO",
            HELPLINE_DEBOUNCE_SECONDS="0",
            HELPLINE_PROVIDER_TIMEOUT_SECONDS="1",
            HELPLINE_OUTBOX_BACKOFF_SECONDS="0.1",
            HELPLINE_OUTBOX_BACKOFF_MAX_SECONDS="0.5",
            HELPLINE_TELEGRAM_TOKEN=telegram.token,
            HELPLINE_TELEGRAM_API_URL=telegram.api_url,
            HELPLINE_TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
            HELPLINE_TWILIO_ACCOUNT_SID=twilio.account_sid,
            HELPLINE_TWILIO_AUTH_TOKEN=twilio.auth_token,
            HELPLINE_TWILIO_WHATSAPP_FROM="whatsapp:+32470000000",
            HELPLINE_TWILIO_API_URL=twilio.url,
        )
        for name in ("HELPLINE_ENV", "HELPLINE_RUN_WORKER", "HELPLINE_DATA_KEY"):
            env.pop(name, None)
        log = tmp_path / "serve.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [HELPLINE, "serve", "--port", str(port)], env=env, stdout=output, stderr=output
            )
            try:
                wait_until_up(port, "/readyz", process)
                with httpx.Client(base_url=public_url, timeout=30) as provider:
                    assert post_telegram(provider, fixture("telegram", "text")).status_code == 200
                    form = fixture("whatsapp", "text")
                    assert post_whatsapp(provider, signer, form).status_code == 200
                wait_for(lambda: bool(telegram.sent and twilio.sent and twilio.lookups()))
            finally:
                stop(process)

    text = log.read_text(encoding="utf-8")
    assert "Application startup complete" in text  # the process's logs are all here
    assert telegram.token.split(":")[1] not in text
    assert DIGITS[2:] not in text


def wait_for(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
