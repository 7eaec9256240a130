"""Who is using the console: passwords, sessions, CSRF tokens and lockout.

- Passwords are hashed with Argon2 (argon2-cffi) and re-hashed when its parameters
  change.
- The session is a signed cookie (itsdangerous): HttpOnly, SameSite=Lax, Secure
  behind https, valid for 12 hours. It carries the staff id, a CSRF token and the
  user's ``session_epoch``; logging out raises the epoch, which ends every session
  of that user at once.
- Every visitor, logged in or not, gets a CSRF token, so the login form is protected
  too. Every POST to the console must carry it (``verify_csrf``).
- Wrong passwords slow a guesser down and never lock anyone out. Every attempt is
  counted in the database (so it holds across instances) before its password is
  checked, per account and client address (an IPv6 client by its /64): past
  ``MAX_FAILURES`` in ``WINDOW`` that address waits for the end of the window before
  it may try that account again, while the account's owner logs in from elsewhere as
  usual. Only ``ACCOUNT_MAX_FAILURES`` in ``ACCOUNT_WINDOW`` for one account, from any
  addresses, make every address wait, and only until that window ends. A success
  clears its address's count.
- An e-mail address without an account is counted, answered and verified (against a
  dummy Argon2 hash) exactly like one with an account: neither the answers nor the
  work tell which accounts exist.
- Each address is also limited to a number of attempts per window, whatever the
  account (in memory, per instance).
"""

from __future__ import annotations

import hmac
import math
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
from sqlalchemy import case, delete, literal, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, func, select
from sqlmodel.sql.sqltypes import UTCDateTime

from bot.config import Settings
from bot.console.i18n import N_
from bot.deps import SessionDep
from bot.models import LoginThrottle, Role, StaffUser
from bot.privacy.addresses import address_hash

COOKIE = "helpline_console"
COOKIE_PATH = "/console"
SESSION_SECONDS = 12 * 3600
MAX_FAILURES = 5  # attempts without a success, per account and client address...
WINDOW = timedelta(minutes=15)  # ...in this window, counted from the first
ACCOUNT_MAX_FAILURES = 100  # per account, from all addresses together...
ACCOUNT_WINDOW = timedelta(hours=1)  # ...in this one
WHOLE_ACCOUNT = ""  # the client_hash of an account's own count
PRUNE_BATCH = 100
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


def password_matches(user: StaffUser, password: str) -> bool:
    return _verify(user.password_hash, password)


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
class ThrottleKeys:
    """Whose attempts count together: keyed hashes of the e-mail address and the client."""

    account: str
    client: str

    @classmethod
    def of(cls, settings: Settings, email: str, client_network: str) -> ThrottleKeys:
        return cls(
            address_hash(settings, "login-account", email.strip().lower()),
            address_hash(settings, "login-client", client_network),
        )


def _count_attempt(
    session: Session, keys: ThrottleKeys, client: str, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Count one attempt in its window, in one statement: None, or the seconds to wait.

    An insert, or an update of the existing count only while it is under ``limit`` (or
    its window is over, when the count starts again): the database takes the attempts
    one at a time, so parallel ones cannot all find room under the limit.
    """
    started = col(LoginThrottle.window_start)
    attempts = col(LoginThrottle.attempts)
    expired = started <= now - window
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    counted = session.execute(
        insert(LoginThrottle)
        .values(account_hash=keys.account, client_hash=client, attempts=1, window_start=now)
        .on_conflict_do_update(
            index_elements=["account_hash", "client_hash"],
            set_={
                "attempts": case((expired, 1), else_=attempts + 1),
                "window_start": case((expired, literal(now, UTCDateTime())), else_=started),
            },
            where=or_(expired, attempts < limit),
        )
        .returning(attempts)
    ).first()
    if counted is not None:
        return None
    since = session.exec(
        select(LoginThrottle.window_start).where(
            LoginThrottle.account_hash == keys.account, LoginThrottle.client_hash == client
        )
    ).one()
    return max(1, math.ceil((since + window - now).total_seconds()))


def count_attempt(session: Session, keys: ThrottleKeys, now: datetime) -> int | None:
    """Count a login attempt before its password is checked, and commit the count.

    None: go on and check the password. Else the seconds this client must wait before
    it tries this account again (every client, after very many failures).
    """
    # The client's own count first: a client made to wait adds nothing to the account's,
    # so one address alone cannot make the account's owner wait.
    wait = _count_attempt(session, keys, keys.client, MAX_FAILURES, WINDOW, now)
    if wait is None:
        wait = _count_attempt(
            session, keys, WHOLE_ACCOUNT, ACCOUNT_MAX_FAILURES, ACCOUNT_WINDOW, now
        )
    session.commit()  # before the password check, and so as not to hold the row locks
    # Forget the counts whose windows are over, a few at a time (the longest window).
    session.exec(
        delete(LoginThrottle).where(
            col(LoginThrottle.id).in_(
                select(LoginThrottle.id)
                .where(col(LoginThrottle.window_start) <= now - ACCOUNT_WINDOW)
                .limit(PRUNE_BATCH)
                .with_for_update(skip_locked=True)  # another request is pruning those
            )
        )
    )
    session.commit()
    return wait


def _succeeded(session: Session, keys: ThrottleKeys) -> None:
    """A right password: its client starts afresh, and the account gets its attempt back."""
    session.exec(
        delete(LoginThrottle).where(
            col(LoginThrottle.account_hash) == keys.account,
            col(LoginThrottle.client_hash) == keys.client,
        )
    )
    session.execute(
        update(LoginThrottle)
        .where(
            col(LoginThrottle.account_hash) == keys.account,
            col(LoginThrottle.client_hash) == WHOLE_ACCOUNT,
            col(LoginThrottle.attempts) > 0,
        )
        .values(attempts=col(LoginThrottle.attempts) - 1)
    )


def forget_attempts(session: Session, settings: Settings, email: str) -> None:
    """Clear an account's counts, from every client (a new password was set)."""
    account = ThrottleKeys.of(settings, email, "").account
    session.exec(delete(LoginThrottle).where(col(LoginThrottle.account_hash) == account))


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None  # set when the password was right and the account usable
    known: StaffUser | None  # the account the e-mail names, if any (for the audit log)
    retry_after: int | None = None  # too many attempts: no password was checked


def authenticate(
    session: Session, settings: Settings, email: str, password: str, client: str, now: datetime
) -> LoginResult:
    """Count the attempt, then check the password (``client``: ``ratelimit.client_network``).

    A known and an unknown e-mail address take the same path: the same count, the
    same answer, one Argon2 verification each (a dummy hash for an unknown address).
    """
    keys = ThrottleKeys.of(settings, email, client)
    wait = count_attempt(session, keys, now)
    user = find_staff(session, email)
    if wait is not None:
        return LoginResult(None, user, retry_after=wait)
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        return LoginResult(None, user)
    if not _verify(user.password_hash, password):
        return LoginResult(None, user)
    _succeeded(session, keys)
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


def current_editor(
    request: Request, user: Annotated[StaffUser, Depends(current_staff)]
) -> StaffUser:
    """An editor of the knowledge base: an ``editor`` or an ``admin``."""
    if user.role not in (Role.editor, Role.admin):
        raise HTTPException(403, N_("Only an editor or an administrator may do this."))
    return user


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]
CurrentAdmin = Annotated[StaffUser, Depends(current_admin)]
CurrentEditor = Annotated[StaffUser, Depends(current_editor)]
