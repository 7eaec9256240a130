"""WhatsApp through Twilio: signed form webhooks in, twilio's REST client out.

Inbound messages arrive as form posts signed with ``X-Twilio-Signature`` (checked
with twilio's ``RequestValidator`` against ``HELPLINE_PUBLIC_URL`` + path). Replies
go out through the REST API from the outbox worker, never in the webhook response,
so slow work never meets Twilio's 15-second webhook timeout.

twilio's client talks HTTP through a small httpx adapter (``_HttpxClient``) so that
timeouts are ours, the base URL comes from ``HELPLINE_TWILIO_API_URL``, and a 429's
``Retry-After`` header reaches the outbox.
"""

from __future__ import annotations

import email.utils
import logging
import mimetypes
import posixpath
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot import outbox
from bot.channels.base import NEVER_SENT, Channel, SendError
from bot.channels.webhook import accept, read_body, reject, storage_unavailable
from bot.config import Settings
from bot.db import session_scope
from bot.deps import EngineDep, SettingsDep, WakeupDep, WriterDep
from bot.messages import Button, Inbound, Outbound
from bot.models import utcnow

KIND = "whatsapp"
TWILIO_HOST = "https://api.twilio.com"

# Twilio error codes that retrying cannot fix (https://www.twilio.com/docs/api/errors).
PERMANENT_CODES = frozenset(
    {
        21211,  # invalid 'To' number
        21408,  # region not enabled
        21610,  # the person unsubscribed (STOP)
        21612,  # 'To' not reachable via this 'From'
        21614,  # not a mobile number
        63003,  # channel could not find the destination
        63016,  # outside the 24-hour window and not a template
        63024,  # invalid message recipient
    }
)
# How many of the newest messages to a person ``find_sent`` reads, and how far before
# the doubtful attempt it looks (Twilio's clock and ours may differ a little).
LOOKUP_LIMIT = 20
CLOCK_SLACK = timedelta(minutes=2)
TWILIO_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
}


# --- webhooks ---------------------------------------------------------------------


def signature_is_valid(
    settings: Settings, url: str, params: Mapping[str, str], signature: str
) -> bool:
    if not settings.twilio_auth_token or not signature:
        return False
    return bool(RequestValidator(settings.twilio_auth_token).validate(url, params, signature))


def parse_inbound(form: Mapping[str, str], *, received_at: datetime) -> Inbound:
    """An inbound message from Twilio's form; raises ``ValueError`` when malformed.

    Profile names and location fields (Latitude, Longitude, Address, Label) are
    dropped: a shared location becomes ``media_type="location"`` without coordinates.
    """
    sid = form.get("MessageSid", "").strip()
    sender = form.get("From", "").strip()
    if not sid or not sender:
        raise ValueError("MessageSid and From are required")
    if not sender.startswith("whatsapp:"):
        raise ValueError("From is not a WhatsApp address")
    text = form.get("Body") or None
    button = form.get("ButtonPayload") or None
    media_type = media_ref = None
    if _int(form.get("NumMedia")) > 0 and form.get("MediaUrl0"):
        media_ref = form["MediaUrl0"]
        media_type = form.get("MediaContentType0") or "application/octet-stream"
    elif form.get("Latitude") or form.get("Longitude"):
        media_type = "location"
        text = None  # Twilio puts nothing useful here, and an Address must not leak in
    return Inbound(
        channel=KIND,
        address=sender,
        provider_message_id=sid,
        text=text,
        button=button,
        media_type=media_type,
        media_ref=media_ref,
        received_at=received_at,
    )


def parse_status(form: Mapping[str, str]) -> tuple[str, str | None, str | None]:
    """(message sid, our status or None to ignore, error description or None)."""
    sid = form.get("MessageSid", "").strip()
    twilio_status = form.get("MessageStatus", "").strip().lower()
    if not sid or not twilio_status:
        raise ValueError("MessageSid and MessageStatus are required")
    code = form.get("ErrorCode")
    error = f"twilio error {code}" if code else None
    return sid, TWILIO_STATUS.get(twilio_status), error


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


# --- sending --------------------------------------------------------------------


def with_numbered_buttons(text: str, buttons: list[Button]) -> str:
    """WhatsApp has no free-form buttons: options become numbered lines to answer with."""
    if not buttons:
        return text
    lines = [f"{number} {button.title}" for number, button in enumerate(buttons, start=1)]
    return (text.rstrip() + "\n\n" if text.strip() else "") + "\n".join(lines)


class _RateLimited(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__("Twilio rate limit (429)")
        self.retry_after = retry_after


class _HttpxClient(AsyncHttpClient):  # type: ignore[misc]  # twilio ships no types
    """twilio's async HTTP interface on httpx, with our timeout and base URL."""

    def __init__(self, timeout: float) -> None:
        super().__init__(logger=logging.getLogger(__name__), is_async=True, timeout=timeout)
        # A small pool: a large one costs more CPU per request in httpcore than it
        # buys in throughput, and Twilio's per-sender rate limit is lower anyway.
        self.client = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=16))

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        response = await self.client.request(
            method,
            uri,
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        if response.status_code == 429:
            raise _RateLimited(retry_after_seconds(response.headers.get("Retry-After")))
        return TwilioResponse(response.status_code, response.text, response.headers)

    async def close(self) -> None:
        await self.client.aclose()


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class WhatsAppChannel(Channel):
    kind = KIND
    max_text = 1600  # Twilio's limit for a message body
    reply_window = timedelta(hours=24)  # WhatsApp's customer service window

    @classmethod
    def template_sid(cls, settings: Settings, language: str) -> str | None:
        sids = settings.twilio_template_sids
        return sids.get(language) or sids.get("en")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api_url = settings.twilio_api_url.rstrip("/")
        self.http = _HttpxClient(settings.provider_timeout_seconds)
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            account_sid=settings.twilio_account_sid,
            http_client=self.http,
        )
        self.client.api.base_url = self.api_url
        self.status_callback = settings.public_url.rstrip("/") + "/webhooks/whatsapp/status"

    async def send(self, outbound: Outbound) -> str:
        fields: dict[str, Any] = {
            "to": outbound.address,
            "from_": self.settings.twilio_whatsapp_from,
            "status_callback": self.status_callback,
        }
        if outbound.template_sid:
            fields["content_sid"] = outbound.template_sid
        else:
            fields["body"] = with_numbered_buttons(outbound.text, outbound.buttons)
        try:
            message = await self.client.messages.create_async(**fields)
        except (_RateLimited, TwilioRestException, httpx.HTTPError) as exc:
            raise _send_error(exc) from exc
        return str(message.sid)

    async def find_sent(self, outbound: Outbound, since: datetime) -> list[str]:
        """Twilio's ids of messages it took for this person since ``since`` that match.

        Reads the newest messages from our number to theirs (one page) and keeps
        those created from a little before ``since`` with the same body; a template
        has no body of ours to compare, so any message in that time counts.
        """
        try:
            found = await self.client.messages.list_async(
                to=outbound.address,
                from_=self.settings.twilio_whatsapp_from,
                limit=LOOKUP_LIMIT,
                page_size=LOOKUP_LIMIT,
            )
        except (_RateLimited, TwilioRestException, httpx.HTTPError) as exc:
            raise _send_error(exc) from exc
        except TwilioException as exc:  # a list page that is not a 200
            raise SendError(f"twilio lookup failed: {exc.args[0]}") from exc
        body = (
            None
            if outbound.template_sid
            else with_numbered_buttons(outbound.text, outbound.buttons)
        )
        matches = [
            m
            for m in found
            if m.date_created is not None
            and m.date_created >= since - CLOCK_SLACK
            and (body is None or m.body == body)
        ]
        matches.sort(key=lambda m: m.date_created or since)
        return [str(m.sid) for m in matches]

    async def fetch_media(self, media_ref: str) -> tuple[bytes, str]:
        """The bytes behind a ``MediaUrl``, fetched with our credentials.

        Only URLs on Twilio's API are fetched (rewritten to the configured base URL),
        so a forged media reference cannot make us fetch from anywhere else.
        """
        url = self._media_url(media_ref)
        try:
            response = await self.http.client.get(
                url,
                auth=(self.settings.twilio_account_sid, self.settings.twilio_auth_token),
                follow_redirects=True,  # Twilio redirects media to its CDN
            )
        except httpx.HTTPError as exc:
            raise SendError(f"media unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise SendError(
                f"media fetch failed: {response.status_code}", permanent=response.is_client_error
            )
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if not content_type:
            content_type = mimetypes.guess_type(url)[0] or "application/octet-stream"
        return response.content, content_type

    def _media_url(self, media_ref: str) -> str:
        """Our API's URL for a ``MediaUrl`` on Twilio, under our own account, or refused.

        The path is normalised before it is checked (``..`` cannot climb out of the
        account), and a path with any percent-encoding (``%2e%2e``, ``%2f``) is refused:
        Twilio's media URLs have none.
        """
        parts = urlsplit(media_ref)
        origin = f"{parts.scheme}://{parts.netloc}"
        account = f"/2010-04-01/Accounts/{self.settings.twilio_account_sid}/"
        path = posixpath.normpath(parts.path)
        if (
            origin not in (TWILIO_HOST, self.api_url)
            or "%" in parts.path
            or "\\" in parts.path
            or not self.settings.twilio_account_sid
            or not path.startswith(account)
        ):
            raise SendError("not a Twilio media URL", permanent=True)
        return self.api_url + path

    async def aclose(self) -> None:
        await self.http.close()


def _send_error(exc: Exception) -> SendError:
    """What a failed request to Twilio means for the outbox."""
    if isinstance(exc, _RateLimited):
        return SendError(str(exc), retry_after=exc.retry_after)
    if isinstance(exc, TwilioRestException):
        # exc.msg can quote the phone number: keep only the status and the code
        return SendError(f"twilio {exc.status} error {exc.code}", permanent=_is_permanent(exc))
    # No answer: unless the request never left (no connection, or not fully written),
    # Twilio may have taken the message.
    never_sent = isinstance(exc, NEVER_SENT)
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable"
    return SendError(f"twilio {kind}: {type(exc).__name__}", in_doubt=not never_sent)


def _is_permanent(exc: TwilioRestException) -> bool:
    if exc.code in PERMANENT_CODES:
        return True
    # Bad credentials (401/403) are a configuration error the team will fix: keep the
    # messages and retry with backoff. Other client errors will not change on retry.
    return 400 <= exc.status < 500 and exc.status not in (401, 403, 408, 409, 423, 429)


def from_settings(settings: Settings) -> WhatsAppChannel | None:
    if not settings.twilio_account_sid:
        return None
    return WhatsAppChannel(settings)


TRANSPORT = WhatsAppChannel


# --- webhook routes -----------------------------------------------------------------

router = APIRouter(prefix="/webhooks", tags=["webhooks"], include_in_schema=False)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def _signed_form(request: Request, settings: Settings) -> dict[str, str]:
    body = await read_body(request, settings.webhook_max_bytes, KIND)
    signature = request.headers.get("x-twilio-signature", "")
    if not signature:
        raise reject(403, KIND, "missing signature")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise reject(400, KIND, "not a form")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError) as exc:
        raise reject(400, KIND, "malformed form") from exc
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not signature_is_valid(settings, url, form, signature):
        raise reject(403, KIND, "bad signature")
    return form


def _twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/whatsapp")
async def whatsapp_inbound(
    request: Request, settings: SettingsDep, writer: WriterDep, wakeup: WakeupDep
) -> Response:
    form = await _signed_form(request, settings)
    try:
        inbound = parse_inbound(form, received_at=utcnow())
    except ValueError as exc:
        raise reject(422, KIND, str(exc)) from exc
    await accept(inbound, writer, wakeup)
    return _twiml()


@router.post("/whatsapp/status")
async def whatsapp_status(request: Request, settings: SettingsDep, engine: EngineDep) -> Response:
    form = await _signed_form(request, settings)
    try:
        sid, status, error = parse_status(form)
    except ValueError as exc:
        raise reject(422, KIND, str(exc)) from exc
    if status is not None:

        def apply() -> None:
            with session_scope(engine) as session:
                outbox.record_status(session, KIND, sid, status, error)

        try:
            await run_in_threadpool(apply)
        except SQLAlchemyError as exc:
            raise storage_unavailable(KIND, exc) from exc
    return _twiml()
