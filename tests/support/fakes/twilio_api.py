"""A fake Twilio REST API (the Messages and Media resources used for WhatsApp).

``FakeTwilioAPI()``, then ``fake.configure(settings)`` points the Twilio settings
at it. ``sent`` holds the accepted messages (body or template ``content_sid``);
``reject(number, code)`` makes sends to a number fail the way Twilio does (21211
invalid number, 21610 unsubscribed, ...); ``add_media`` serves a ``MediaUrl``.
``GET .../Messages.json?To=&From=`` lists the accepted messages, newest first, as
Twilio's Messages list does; faults apply to sends only, and to these lookups too
when ``faults_on_lookups`` is set.
Requests need the account's basic auth, as on Twilio.
Run it alone with ``python -m tests.support.fakes.twilio_api`` (prints its URL).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from tests.support.fakes.server import FakeServer, Fault, Recorded, Reply

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
    at: float = field(default_factory=time.time)  # when the fake accepted it (its clock)


class FakeTwilioAPI(FakeServer):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sent: list[SentMessage] = []
        self.rejected: dict[str, int] = {}
        self.media: dict[str, tuple[str, bytes]] = {}
        self.faults_on_lookups = False
        self.clock: Callable[[], float] = time.time  # Twilio's clock, for date_created

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
    def lookups(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET" and r.path == MESSAGES_PATH]

    def fault_applies(self, recorded: Recorded) -> bool:
        methods = ("POST", "GET") if self.faults_on_lookups else ("POST",)
        return recorded.method in methods and recorded.path.endswith("/Messages.json")

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
        if recorded.method == "GET" and recorded.path == MESSAGES_PATH:
            return self._list_messages(recorded.params)
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
                    at=self.clock(),
                )
            )
            message = self.sent[-1]
        return Reply.json(201, self._resource(message))

    def _list_messages(self, params: dict[str, str]) -> Reply:
        page_size = min(int(params.get("PageSize") or 50), 1000)
        with self._lock:
            found = [
                m
                for m in reversed(self.sent)
                if params.get("To", m.to) == m.to and params.get("From", m.from_) == m.from_
            ][:page_size]
        uri = MESSAGES_PATH + f"?PageSize={page_size}&Page=0"
        return Reply.json(
            200,
            {
                "messages": [self._resource(m) for m in found],
                "end": max(0, len(found) - 1),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            },
        )

    def _resource(self, message: SentMessage) -> dict[str, Any]:
        created = formatdate(message.at, usegmt=True)
        return {
            "sid": message.sid,
            "account_sid": self.account_sid,
            "to": message.to,
            "from": message.from_,
            "body": message.body or "",
            "status": "queued",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "num_segments": "1",
            "num_media": "0",
            "date_created": created,
            "date_updated": created,
            "date_sent": None,
            "price": None,
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}.json",
        }


if __name__ == "__main__":
    with FakeTwilioAPI() as fake:
        print(fake.url, flush=True)
        threading.Event().wait()
