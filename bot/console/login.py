"""Logging in and out, and choosing the console's language."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot import audit
from bot.console import auth
from bot.console.auth import CurrentStaff
from bot.console.i18n import CONSOLE_LOCALES, N_
from bot.console.routing import console_router
from bot.console.templating import render, translator
from bot.deps import SessionDep, SettingsDep
from bot.models import utcnow
from bot.ops import ratelimit

router = console_router()


def safe_next(target: str | None) -> str:
    """Only a console path: never an address elsewhere (open redirect)."""
    if (
        target
        and target.startswith("/console/")
        and not any(bad in target for bad in ("//", "\\", "\n", "\r"))
    ):
        return target
    return "/console/queue"


@router.get("")
@router.get("/")
def console_home() -> RedirectResponse:
    return RedirectResponse("/console/queue", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None, "email": ""})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    t = translator(request)
    limiter = auth.login_limiter(request)
    client = ratelimit.client_network(request)
    if not limiter.allow(client):
        raise HTTPException(429, t.gettext("Too many login attempts. Wait a few minutes."))
    now = utcnow()
    result = auth.authenticate(session, settings, email, password, client, now)
    if result.user is None:
        known_id = result.known.id if result.known else None
        throttled = result.retry_after is not None
        audit.record(
            session,
            audit.Action.login_failed,
            staff_id=known_id,
            detail="throttled" if throttled else None,
            now=now,
        )
        session.commit()
        # The same answers whether the account exists or not.
        if throttled:
            error = t.gettext("Too many login attempts. Wait a few minutes.")
        else:
            error = t.gettext("Wrong e-mail address or password.")
        context = {"next": safe_next(next), "error": error, "email": email}
        response = render(request, "login.html", context, status_code=429 if throttled else 401)
        if throttled:
            response.headers["Retry-After"] = str(result.retry_after)
        return response
    # One language before and after logging in: a language chosen on the login page
    # becomes the account's; otherwise the login page takes the account's from now on.
    chosen = auth.read_session(request).locale
    if chosen in CONSOLE_LOCALES and chosen != result.user.locale:
        result.user.locale = str(chosen)
        session.add(result.user)
    audit.record(session, audit.Action.login, staff_id=result.user.id, now=now)
    session.commit()
    auth.log_in(request, result.user)
    auth.replace_session(request, locale=result.user.locale)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep, staff: CurrentStaff) -> Response:
    auth.log_out(request, session, staff)
    audit.record(session, audit.Action.logout, staff_id=staff.id)
    session.commit()
    return RedirectResponse("/console/login", status_code=303)


@router.post("/locale")
def choose_locale(
    request: Request,
    session: SessionDep,
    locale: Annotated[str, Form()],
    back: Annotated[str, Form()] = "",
) -> Response:
    if locale not in CONSOLE_LOCALES:
        raise HTTPException(400, N_("Unknown language."))
    auth.replace_session(request, locale=locale)
    staff_id = auth.read_session(request).staff_id
    if staff_id is not None:
        try:
            staff = auth.current_staff(request, session)
        except HTTPException:
            staff = None
        if staff is not None:
            staff.locale = locale
            session.add(staff)
            session.commit()
    return RedirectResponse(safe_next(back) if back else "/console/queue", status_code=303)
