"""A fake Twilio REST API (the Messages and Media resources used for WhatsApp).

``FakeTwilioAPI()``, then ``fake.configure(settings)`` points the Twilio settings
at it. ``sent`` holds the accepted messages (body or template ``content_sid``);
``reject(number, code)`` makes sends to a number fail the way Twilio does (21211
invalid number, 21610 unsubscribed, ...); ``add_media`` serves a ``MediaUrl``.
Requests need the account's basic auth, as on Twilio.
Run it alone with ``python -m tests.fakes.twilio_api`` (prints its URL).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from tests.fakes.server import FakeServer, Fault, Recorded, Reply

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
WHATSAPP_FROM = "whatsapp:+32470000000"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@dataclass
class SentMessage:
    sid: str
    to: str
    from_: str
    body: str | None
    content_sid: str | None
    status_callback: str | None
    at: float = field(default_factory=time.time)  # when the fake accepted it


class FakeTwilioAPI(FakeServer):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sent: list[SentMessage] = []
        self.rejected: dict[str, int] = {}
        self.media: dict[str, tuple[str, bytes]] = {}

    def configure(self, settings: Any) -> None:
        settings.twilio_account_sid = self.account_sid
        settings.twilio_auth_token = self.auth_token
        settings.twilio_whatsapp_from = WHATSAPP_FROM
        settings.twilio_api_url = self.url

    # --- test controls
    def reject(self, number: str, code: int = 21211) -> None:
        self.rejected[number] = code

    def add_media(self, path: str, content: bytes, content_type: str) -> str:
        """Serve ``content`` at ``path`` (under the account); returns its public URL."""
        self.media[path] = (content_type, content)
        return "https://api.twilio.com" + path

    def sent_to(self, address: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.to == address]

    # --- the API
    def fault_applies(self, recorded: Recorded) -> bool:
        return recorded.method == "POST" and recorded.path.endswith("/Messages.json")

    def fault_reply(self, fault: Fault) -> Reply:
        if fault.kind == "rate_limit":
            return Reply.json(
                429,
                {"code": 20429, "message": "Too Many Requests", "status": 429},
                **{"Retry-After": f"{fault.retry_after:g}"},
            )
        return Reply.json(
            fault.status, {"code": 20500, "message": "Internal Server Error", "status": 500}
        )

    def handle(self, recorded: Recorded) -> Reply:
        if not self._authorized(recorded):
            return Reply.json(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if recorded.method == "GET" and recorded.path in self.media:
            content_type, content = self.media[recorded.path]
            return Reply(200, content, content_type)
        if recorded.method == "POST" and recorded.path == MESSAGES_PATH:
            return self._create_message(recorded.params)
        return Reply.json(
            404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        )

    def _authorized(self, recorded: Recorded) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return recorded.headers.get("authorization", "") == f"Basic {expected}"

    def _create_message(self, params: dict[str, str]) -> Reply:
        to = params.get("To", "")
        if to in self.rejected:
            code = self.rejected[to]
            return Reply.json(
                400,
                {
                    "code": code,
                    "message": f"The 'To' number {to} is not a valid phone number.",
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": 400,
                },
            )
        if not to.startswith("whatsapp:") or not params.get("From", "").startswith("whatsapp:"):
            return Reply.json(400, {"code": 21211, "message": "Invalid 'To'", "status": 400})
        if not params.get("Body") and not params.get("ContentSid"):
            return Reply.json(400, {"code": 21619, "message": "A text body is required"})
        with self._lock:
            sid = f"SM{uuid.uuid4().hex}"
            self.sent.append(
                SentMessage(
                    sid,
                    to,
                    params["From"],
                    params.get("Body"),
                    params.get("ContentSid"),
                    params.get("StatusCallback"),
                )
            )
        now = formatdate(usegmt=True)
        return Reply.json(
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": to,
                "from": params["From"],
                "body": params.get("Body", ""),
                "status": "queued",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "num_segments": "1",
                "num_media": "0",
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "price": None,
                "error_code": None,
                "error_message": None,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
        )


if __name__ == "__main__":
    with FakeTwilioAPI() as fake:
        print(fake.url, flush=True)
        threading.Event().wait()
