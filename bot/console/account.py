"""A staff member's own account: the name colleagues see, the console's language, and
a new password (given with the current one)."""

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
from bot.models import StaffUser

router = console_router()

MAX_NAME = 120
NOTICES = {
    "saved": N_("Your account is saved."),
    "password": N_("Your password is changed. Your other sessions are logged out."),
}


def _page(
    request: Request,
    staff: StaffUser,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "notice": NOTICES.get(notice or ""),
        "error": error,
        "min_password_length": auth.MIN_PASSWORD_LENGTH,
    }
    return render(request, "account.html", context, status_code=status_code)


@router.get("/account")
def account_page(request: Request, staff: CurrentStaff, notice: str | None = None) -> Response:
    return _page(request, staff, notice=notice)


@router.post("/account")
def save_account(
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    name: Annotated[str, Form(max_length=MAX_NAME)],
    locale: Annotated[str, Form(max_length=8)],
) -> Response:
    if locale not in CONSOLE_LOCALES:
        raise HTTPException(400, N_("Unknown language."))
    staff.name = " ".join(name.split())
    staff.locale = locale
    session.add(staff)
    session.commit()
    auth.replace_session(request, locale=locale)
    return RedirectResponse("/console/account?notice=saved", status_code=303)


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
) -> Response:
    t = translator(request)
    if not auth.password_matches(staff, current):
        error = t.gettext("Your current password is not right.")
        return _page(request, staff, error=error, status_code=400)
    if new != repeat:
        error = t.gettext("The two new passwords are not the same.")
        return _page(request, staff, error=error, status_code=400)
    try:
        staff.password_hash = auth.hash_password(new)
    except ValueError:
        error = t.gettext("A password has at least %(count)s characters.") % {
            "count": auth.MIN_PASSWORD_LENGTH
        }
        return _page(request, staff, error=error, status_code=400)
    # Every other session ends; this one goes on, with a fresh CSRF token.
    staff.session_epoch += 1
    session.add(staff)
    audit.record(session, audit.Action.password_changed, staff_id=staff.id)
    session.commit()
    auth.log_in(request, staff)
    return RedirectResponse("/console/account?notice=password", status_code=303)
