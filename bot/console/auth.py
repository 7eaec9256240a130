"""Who is using the console: passwords, sessions, CSRF tokens and lockout.

- Passwords are hashed with Argon2 (argon2-cffi) and re-hashed when its parameters
  change.
- The session is a signed cookie (itsdangerous): HttpOnly, SameSite=Lax, Secure
  behind https, valid for 12 hours. It carries the staff id, a CSRF token and the
  user's ``session_epoch``; logging out raises the epoch, which ends every session
  of that user at once.
- Every visitor, logged in or not, gets a CSRF token, so the login form is protected
  too. Every POST to the console must carry it (``verify_csrf``).
- Five wrong passwords in a row lock the account for 15 minutes (stored in the
  database, so it holds across instances); each address is also limited to a number
  of attempts per window (in memory, per instance).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from bot.config import Settings
from bot.console.i18n import N_
from bot.deps import SessionDep
from bot.models import Role, StaffUser

COOKIE = "helpline_console"
COOKIE_PATH = "/console"
SESSION_SECONDS = 12 * 3600
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
CSRF_FIELD = "csrf_token"

hasher = PasswordHasher()
# Verified when the e-mail is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- the session cookie ------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleSession:
    csrf: str
    staff_id: int | None = None
    epoch: int = 0
    locale: str | None = None  # chosen before logging in


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="helpline-console-session")


def read_session(request: Request) -> ConsoleSession:
    """This request's session: from its cookie, or a new anonymous one."""
    cached: ConsoleSession | None = getattr(request.state, "console_session", None)
    if cached is not None:
        return cached
    settings: Settings = request.app.state.settings
    session = None
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer(settings).loads(raw, max_age=SESSION_SECONDS)
            session = ConsoleSession(
                csrf=str(data["c"]),
                staff_id=int(data["s"]) if data.get("s") is not None else None,
                epoch=int(data.get("e", 0)),
                locale=data.get("l"),
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            session = None
    if session is None:
        session = ConsoleSession(csrf=secrets.token_urlsafe(32))
        request.state.console_session_dirty = True
    request.state.console_session = session
    return session


def replace_session(request: Request, **changes: object) -> ConsoleSession:
    session = replace(read_session(request), **changes)  # type: ignore[arg-type]
    request.state.console_session = session
    request.state.console_session_dirty = True
    return session


def save_session(request: Request, response: Response) -> None:
    """Write the session cookie when it is new or changed (called on every response)."""
    if not getattr(request.state, "console_session_dirty", False):
        return
    session: ConsoleSession = request.state.console_session
    settings: Settings = request.app.state.settings
    value = _serializer(settings).dumps(
        {"c": session.csrf, "s": session.staff_id, "e": session.epoch, "l": session.locale}
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )


# --- CSRF --------------------------------------------------------------------------


async def verify_csrf(request: Request) -> None:
    """Refuse a state-changing request without this session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.url.netloc}"
        settings: Settings = request.app.state.settings
        if origin not in (expected, settings.public_url.rstrip("/")):
            raise HTTPException(403, N_("Refused: this form was sent from another site."))
    session = read_session(request)
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise HTTPException(403, N_("The form has expired: reload the page and try again."))


# --- logging in --------------------------------------------------------------------


class LoginRateLimiter:
    """At most ``limit`` attempts per ``window`` seconds from one address."""

    def __init__(self, limit: int = 20, window: float = 600.0) -> None:
        self.limit = limit
        self.window = window
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            attempts = self._attempts.setdefault(key, deque())
            while attempts and attempts[0] <= now - self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                return False
            attempts.append(now)
            if len(self._attempts) > 10_000:  # bound memory under a spray of addresses
                self._attempts = {k: v for k, v in self._attempts.items() if v}
            return True


def login_limiter(request: Request) -> LoginRateLimiter:
    """The app's limiter, made on first use."""
    limiter: LoginRateLimiter | None = getattr(request.app.state, "console_login_limiter", None)
    if limiter is None:
        limiter = request.app.state.console_login_limiter = LoginRateLimiter()
    return limiter


def find_staff(session: Session, email: str) -> StaffUser | None:
    return session.exec(
        select(StaffUser).where(func.lower(col(StaffUser.email)) == email.strip().lower())
    ).first()


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None  # set when the password was right and the account usable
    known: StaffUser | None  # the account the e-mail names, if any (for the audit log)
    locked: bool = False


def authenticate(session: Session, email: str, password: str, now: datetime) -> LoginResult:
    """Check a password, counting failures and locking the account after too many."""
    user = find_staff(session, email)
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        return LoginResult(None, user)
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, user, locked=True)
    if not _verify(user.password_hash, password):
        session.execute(
            update(StaffUser)
            .where(col(StaffUser.id) == user.id)
            .values(failed_logins=col(StaffUser.failed_logins) + 1)
        )
        session.refresh(user)
        locked = user.failed_logins >= MAX_FAILURES
        if locked:
            user.locked_until = now + LOCKOUT
            session.add(user)
        return LoginResult(None, user, locked=locked)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    session.add(user)
    return LoginResult(user, user)


def log_in(request: Request, user: StaffUser) -> None:
    """A fresh session (and CSRF token) for this user."""
    assert user.id is not None
    replace_session(
        request, staff_id=user.id, epoch=user.session_epoch, csrf=secrets.token_urlsafe(32)
    )


def log_out(request: Request, session: Session, user: StaffUser) -> None:
    user.session_epoch += 1
    session.add(user)
    replace_session(request, staff_id=None, epoch=0, csrf=secrets.token_urlsafe(32))


# --- dependencies ------------------------------------------------------------------


def _not_logged_in(request: Request) -> HTTPException:
    wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
    if wants_page:
        return HTTPException(
            303, "log in first", headers={"Location": f"/console/login?next={request.url.path}"}
        )
    return HTTPException(401, N_("Log in first."))


def current_staff(request: Request, session: SessionDep) -> StaffUser:
    console_session = read_session(request)
    if console_session.staff_id is None:
        raise _not_logged_in(request)
    user = session.get(StaffUser, console_session.staff_id)
    if user is None or not user.active or user.session_epoch != console_session.epoch:
        replace_session(request, staff_id=None, epoch=0)
        raise _not_logged_in(request)
    request.state.staff = user
    return user


def current_admin(
    request: Request, user: Annotated[StaffUser, Depends(current_staff)]
) -> StaffUser:
    if user.role != Role.admin:
        raise HTTPException(403, N_("Only an administrator may do this."))
    return user


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]
CurrentAdmin = Annotated[StaffUser, Depends(current_admin)]
