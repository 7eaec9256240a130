"""A fake Telegram Bot API: ``FakeTelegramAPI(token)``, then point
``HELPLINE_TELEGRAM_API_URL`` at ``fake.api_url`` (``fake.configure(settings)``).

It keeps what a test wants to look at: ``sent`` (accepted sendMessage calls, with
their inline keyboards), ``answered`` (callback query ids), ``webhook`` (the last
setWebhook), and serves getUpdates from ``push_update`` and files from ``add_file``.
``block(chat_id)`` makes sendMessage answer 403 "bot was blocked by the user";
``forget(chat_id)`` makes it answer 400 "chat not found".
Run it alone with ``python -m tests.support.fakes.telegram_api`` (prints its URL).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.fakes.server import FakeServer, Fault, Recorded, Reply

TOKEN = "123456:TEST-fake-telegram-token"


@dataclass
class SentMessage:
    chat_id: str
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    at: float = field(default_factory=time.time)  # when the fake accepted it

    @property
    def button_payloads(self) -> list[str]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button["callback_data"] for row in rows for button in row]


class FakeTelegramAPI(FakeServer):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.sent: list[SentMessage] = []
        self.answered: list[str] = []
        self.webhook: dict[str, str] = {}
        self.blocked: set[str] = set()
        self.unknown: set[str] = set()
        self.files: dict[str, tuple[str, bytes]] = {}
        self._updates: list[dict[str, Any]] = []
        self._updates_changed = threading.Condition(self._lock)
        self._message_ids = itertools.count(1000)

    @property
    def api_url(self) -> str:
        return f"{self.url}/bot"

    def configure(self, settings: Any, *, webhook_secret: str = "test-webhook-secret") -> None:
        settings.telegram_token = self.token
        settings.telegram_api_url = self.api_url
        settings.telegram_webhook_secret = webhook_secret

    # --- test controls
    def block(self, chat_id: int | str) -> None:
        self.blocked.add(str(chat_id))

    def forget(self, chat_id: int | str) -> None:
        self.unknown.add(str(chat_id))

    def add_file(self, file_id: str, content: bytes, file_path: str) -> None:
        self.files[file_id] = (file_path, content)

    def push_update(self, update: dict[str, Any]) -> None:
        with self._updates_changed:
            self._updates.append(update)
            self._updates_changed.notify_all()

    def sent_to(self, chat_id: int | str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.chat_id == str(chat_id)]

    # --- the API
    def fault_applies(self, recorded: Recorded) -> bool:
        return recorded.path.endswith("/sendMessage")

    def fault_reply(self, fault: Fault) -> Reply:
        if fault.kind == "rate_limit":
            seconds = max(1, round(fault.retry_after))
            return Reply.json(
                429,
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {seconds}",
                    "parameters": {"retry_after": seconds},
                },
                **{"Retry-After": str(seconds)},
            )
        return _error(fault.status, "Internal Server Error")

    def handle(self, recorded: Recorded) -> Reply:
        prefix = f"/bot{self.token}/"
        file_prefix = f"/file/bot{self.token}/"
        if recorded.path.startswith(file_prefix):
            return self._download(recorded.path.removeprefix(file_prefix))
        if not recorded.path.startswith(prefix):
            return _error(401, "Unauthorized")
        method = recorded.path.removeprefix(prefix)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found")
        result: Reply = handler(recorded.params)
        return result

    def _api_getMe(self, params: dict[str, str]) -> Reply:
        return _ok({"id": 123456, "is_bot": True, "first_name": "Infolijn", "username": "fakebot"})

    def _api_sendMessage(self, params: dict[str, str]) -> Reply:
        chat_id = params.get("chat_id", "")
        text = params.get("text", "")
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.unknown or not chat_id:
            return _error(400, "Bad Request: chat not found")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else None
        with self._lock:
            message = SentMessage(chat_id, next(self._message_ids), text, markup)
            self.sent.append(message)
        result: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private"},
            "from": {"id": 123456, "is_bot": True, "first_name": "Infolijn"},
            "text": text,
        }
        if markup:
            result["reply_markup"] = markup
        return _ok(result)

    def _api_answerCallbackQuery(self, params: dict[str, str]) -> Reply:
        with self._lock:
            self.answered.append(params.get("callback_query_id", ""))
        return _ok(True)

    def _api_setWebhook(self, params: dict[str, str]) -> Reply:
        self.webhook = dict(params)
        return _ok(True)

    def _api_deleteWebhook(self, params: dict[str, str]) -> Reply:
        self.webhook = {}
        return _ok(True)

    def _api_getUpdates(self, params: dict[str, str]) -> Reply:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), 1.0)
        with self._updates_changed:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and wait:
                self._updates_changed.wait(wait)
            return _ok(list(self._updates))

    def _api_getFile(self, params: dict[str, str]) -> Reply:
        file_id = params.get("file_id", "")
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(content),
                "file_path": path,
            }
        )

    def _download(self, path: str) -> Reply:
        for file_path, content in self.files.values():
            if file_path == path:
                return Reply(200, content, "application/octet-stream")
        return Reply.json(404, {"ok": False})


def _ok(result: Any) -> Reply:
    return Reply.json(200, {"ok": True, "result": result})


def _error(code: int, description: str) -> Reply:
    return Reply.json(code, {"ok": False, "error_code": code, "description": description})


if __name__ == "__main__":
    with FakeTelegramAPI() as fake:
        print(fake.api_url, flush=True)
        threading.Event().wait()
