"""Rendering console pages: Jinja2 with autoescaping and the console's translations.

Every template extends ``base.html``. Autoescaping is always on, so a ``<script>``
a person writes is shown as text. ``csrf_input()`` renders the hidden CSRF field
every form needs. Other parts of the service put their templates in a subfolder of
``bot/console/templates`` and render them with ``render``.
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from markupsafe import Markup

from bot.config import Settings
from bot.console.auth import CSRF_FIELD, read_session
from bot.console.i18n import (
    CONSOLE_LOCALE_NAMES,
    CONSOLE_LOCALES,
    LANGUAGE_NAMES,
    negotiate,
    translations,
)
from bot.models import StaffUser

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
RTL_LANGUAGES = frozenset({"ps", "fa", "ar"})


@pass_context
def csrf_input(context: Any) -> Markup:
    token = context["csrf_token"]
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def static_url(name: str) -> str:
    """A static file's URL with its modification time, so browsers never use a stale copy."""
    path = STATIC / name
    version = int(path.stat().st_mtime) if path.exists() else 0
    return f"/console/static/{name}?v={version}"


@lru_cache(maxsize=16)
def environment(locales_dir: Path, locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalog = translations(locales_dir, locale)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        csrf_input=csrf_input,
        static_url=static_url,
        console_locales=CONSOLE_LOCALE_NAMES,
        locale=locale,
        language_name=lambda code: (
            catalog.gettext(LANGUAGE_NAMES[code]) if code in LANGUAGE_NAMES else (code or "?")
        ),
        text_direction=lambda code: "rtl" if code in RTL_LANGUAGES else "ltr",
    )
    env.filters["minutes_since"] = minutes_since
    env.filters["clock"] = clock
    return env


def minutes_since(moment: datetime | None, now: datetime | None = None) -> int:
    if moment is None:
        return 0
    if moment.tzinfo is None:  # SQLite returns naive UTC
        moment = moment.replace(tzinfo=UTC)
    return max(0, int(((now or datetime.now(UTC)) - moment).total_seconds() // 60))


def clock(moment: datetime | None, timezone: str = "Europe/Brussels") -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(timezone))
    today = datetime.now(ZoneInfo(timezone)).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%d/%m %H:%M")


def console_locale(request: Request, staff: StaffUser | None = None) -> str:
    if staff is not None and staff.locale in CONSOLE_LOCALES:
        return staff.locale
    chosen = read_session(request).locale
    if chosen in CONSOLE_LOCALES:
        return str(chosen)
    return negotiate(request.headers.get("accept-language", ""))


def translator(request: Request) -> gettext.NullTranslations:
    settings: Settings = request.app.state.settings
    staff = getattr(request.state, "staff", None)
    return translations(settings.locales_dir, console_locale(request, staff))


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    staff: StaffUser | None = getattr(request.state, "staff", None)
    locale = console_locale(request, staff)
    template = environment(settings.locales_dir, locale).get_template(name)
    values = {
        "request": request,
        "staff": staff,
        "csrf_token": read_session(request).csrf,
        "timezone": settings.timezone,
        "notice": None,
        "page": name.removesuffix(".html"),
        **(context or {}),
    }
    return HTMLResponse(template.render(values), status_code=status_code)


def render_fragment(request: Request, name: str, context: dict[str, Any]) -> str:
    """A partial template (for live updates), rendered like a page."""
    settings: Settings = request.app.state.settings
    staff: StaffUser | None = getattr(request.state, "staff", None)
    template = environment(settings.locales_dir, console_locale(request, staff)).get_template(name)
    return template.render(
        {
            "request": request,
            "staff": staff,
            "timezone": settings.timezone,
            "csrf_token": read_session(request).csrf,
            **context,
        }
    )
