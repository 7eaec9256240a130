"""Security headers on every response, a cap on request bodies, and validation errors
that cannot fail.

The console's route class sets its own (stricter) set, with ``Cache-Control:
no-store``; this middleware adds what a response lacks, so the web chat, the health
checks, the webhooks and even a 404 carry a CSP without inline script, no framing,
no MIME sniffing and no referrer leaving the site. HSTS is sent only when the
public URL is https (behind plain http a browser ignores it, and a developer's
``localhost`` must not be pinned to https).

Pure ASGI (no ``BaseHTTPMiddleware``): streaming responses such as the console's
live updates pass through untouched.

Every request body is capped (``HELPLINE_MAX_BODY_BYTES``) before any route reads it:
FastAPI reads a JSON body whole before a field's length limit applies, so without
the cap anyone could make the process hold hundreds of megabytes through ``/try``.

Every JSON body is bounded in depth too (``MAX_JSON_DEPTH``): arrays nested thousands
deep exhaust Python's recursion while they are parsed (a 500), and no message a
provider or the web chat sends nests more than a few levels.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"
MAX_JSON_DEPTH = 32  # Telegram's updates nest about 8 deep, the web chat's posts 1


def security_headers(https: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in security_headers(public_url.startswith("https://")).items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                missing = [(n, v) for n, v in self.headers if n not in present]
                message["headers"] = [*message.get("headers", []), *missing]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, "request body too large", headers={"Connection": "close"})


class BodyLimitMiddleware:
    """413 for a request body over ``max_bytes``, without reading more of it than that.

    A Content-Length over the limit is refused before the app runs, the body unread;
    a body without one (chunked) is counted as the app receives it, and the read that
    passes the limit raises ``BodyTooLarge`` (413) in the route, or here if nothing
    answered it. The connection is closed after a 413 rather than read to its end.
    Routes with a lower limit of their own (the webhooks) keep it.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next(
            (value for name, value in scope.get("headers", []) if name == b"content-length"),
            None,
        )
        if declared is not None:
            # The server delivers no more than a valid Content-Length says.
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await _refuse(send)
            else:
                await self.app(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send)


async def _refuse(send: Send) -> None:
    body = b'{"detail":"request body too large"}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def validation_error_response(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, minus the echoed input.

    The default handler repeats what was sent, which may be what a person wrote, and
    fails with a 500 when that is a number JSON cannot carry (``1e999``, ``NaN``:
    Python's JSON parser accepts them, its encoder refuses them).
    """
    assert isinstance(exc, RequestValidationError)
    detail = [
        {
            "type": str(e.get("type", "")),
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
        }
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


class JsonTooDeep(ValueError):
    """A JSON body nested deeper than ``MAX_JSON_DEPTH``."""


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep arrays and objects nest in a parsed JSON value (a scalar: 0).

    Walked without recursion, and only until it is past ``limit``.
    """
    deepest = 0
    stack = [(value, 1)]
    while stack and deepest <= limit:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def load_json(body: bytes | str) -> Any:
    """``json.loads``, refusing nesting deeper than ``MAX_JSON_DEPTH`` (``JsonTooDeep``).

    ``ValueError`` (``JsonTooDeep`` included) for anything that is not such JSON.
    """
    try:
        data = json.loads(body)
    except RecursionError as exc:  # thousands deep: the parser gave up
        raise JsonTooDeep("JSON nested too deeply") from exc
    if json_depth(data) > MAX_JSON_DEPTH:
        raise JsonTooDeep("JSON nested too deeply")
    return data
