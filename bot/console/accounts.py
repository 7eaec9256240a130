"""Staff accounts: created from the command line (``helpline staff add``), never by a form."""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot import audit
from bot.config import Settings
from bot.console.auth import find_staff, forget_attempts, hash_password
from bot.console.i18n import CONSOLE_LOCALES, DEFAULT_LOCALE
from bot.models import Role, StaffUser


class AccountError(ValueError):
    """The account cannot be created or changed as asked; the message says why."""


def create_staff(
    session: Session,
    email: str,
    password: str,
    *,
    role: str = Role.staff,
    name: str = "",
    locale: str = DEFAULT_LOCALE,
    can_broadcast: bool = False,
) -> StaffUser:
    email = email.strip()
    if "@" not in email or len(email) > 254:
        raise AccountError(f"not an e-mail address: {email!r}")
    if role not in Role.__members__:
        raise AccountError(f"role must be one of {', '.join(Role)}, not {role!r}")
    if locale not in CONSOLE_LOCALES:
        raise AccountError(f"console language must be one of {', '.join(CONSOLE_LOCALES)}")
    if find_staff(session, email) is not None:
        raise AccountError(f"{email} already has an account")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    user = StaffUser(
        email=email,
        name=name.strip(),
        role=role,
        locale=locale,
        password_hash=password_hash,
        can_broadcast=can_broadcast,
    )
    session.add(user)
    session.flush()
    audit.record(session, audit.Action.staff_added, staff_id=None, target=f"staff:{user.id}")
    return user


def set_password(session: Session, email: str, password: str, *, settings: Settings) -> StaffUser:
    """A new password; also clears the account's failed logins and ends its sessions."""
    user = find_staff(session, email)
    if user is None:
        raise AccountError(f"{email} has no account")
    try:
        user.password_hash = hash_password(password)
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    forget_attempts(session, settings, email)
    user.session_epoch += 1
    session.add(user)
    return user


def set_broadcaster(session: Session, email: str, *, allowed: bool) -> StaffUser:
    """Give or take the permission to send broadcasts (admins have it anyway)."""
    user = find_staff(session, email)
    if user is None:
        raise AccountError(f"{email} has no account")
    user.can_broadcast = allowed
    session.add(user)
    audit.record(
        session,
        audit.Action.broadcaster,
        staff_id=None,
        target=f"staff:{user.id}",
        detail="granted" if allowed else "withdrawn",
    )
    return user


def deactivate(session: Session, email: str) -> StaffUser:
    user = find_staff(session, email)
    if user is None:
        raise AccountError(f"{email} has no account")
    user.active = False
    user.session_epoch += 1
    session.add(user)
    return user


def all_staff(session: Session) -> list[StaffUser]:
    return list(session.exec(select(StaffUser).order_by(col(StaffUser.email))).all())
