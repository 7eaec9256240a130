"""The console's route class: security headers, the session cookie and error pages.

Every console router is made with ``console_router()`` (the statistics pages too), so
that each response gets the same headers (a CSP without inline script, no framing,
no caching of pages that show personal data), each POST is checked for its CSRF
token, and an error is a readable page in the staff member's language.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.routing import APIRoute

from bot.console.auth import save_session, verify_csrf
from bot.console.i18n import N_

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "media-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
INVALID_FORM = N_("The form is incomplete or not valid. Go back and check it.")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def error_response(request: Request, exc: HTTPException) -> Response:
    if exc.status_code in (301, 302, 303, 307, 308) and exc.headers:
        return RedirectResponse(exc.headers["Location"], status_code=exc.status_code)
    from bot.console.templating import render, translator

    # Details are English message ids or already translated; gettext leaves the latter.
    detail = translator(request).gettext(str(exc.detail))
    if "text/html" in request.headers.get("accept", ""):
        context = {"status": exc.status_code, "detail": detail}
        return render(request, "error.html", context, status_code=exc.status_code)
    return PlainTextResponse(detail, status_code=exc.status_code, headers=exc.headers)


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except HTTPException as exc:
                response = error_response(request, exc)
            except RequestValidationError:
                # A missing or malformed form field: say so on a page, not in JSON.
                response = error_response(request, HTTPException(400, INVALID_FORM))
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers.setdefault("Cache-Control", "no-store")
            save_session(request, response)
            return response

        return console_handler


def console_router() -> APIRouter:
    """A router under /console whose routes get the console's headers and CSRF check."""
    return APIRouter(
        prefix="/console",
        route_class=ConsoleRoute,
        dependencies=[Depends(verify_csrf)],
        include_in_schema=False,
    )
