"""``/try``: a web page to chat with the bot, through the same inbox and flows.

The page is rendered on the server (the transcript so far) and a little JavaScript
of ours (no CDN) posts what the person writes or presses and polls for new
messages. A random cookie is the "channel address" of the webchat contact; "Start
again" simply gets a new one.

A new cookie is a new contact, so one client address may start only so many chats
an hour (``HELPLINE_WEBCHAT_NEW_CONTACTS_PER_HOUR``, see ``bot.ops.ratelimit``); the
chats it has started go on whatever the count, but each only so fast
(``HELPLINE_WEBCHAT_MESSAGES_PER_MINUTE``) and so far
(``HELPLINE_WEBCHAT_MESSAGES_PER_CHAT``).

The page links to its script and endpoints by path, never by a URL made from the
request's ``Host`` header (which the client controls), and nothing that shows a
transcript may be cached (``Cache-Control: no-store``).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from bot import inbox
from bot.channels.webhook import storage_unavailable
from bot.config import LANGUAGES, Settings
from bot.conversations import find_contact
from bot.db import session_scope
from bot.deps import MAX_ROW_ID, EngineDep, SettingsDep, WakeupDep
from bot.i18n import RTL_LANGUAGES, speaker
from bot.messages import Inbound
from bot.models import Conversation, Direction, Message, MessageStatus, utcnow
from bot.ops import ratelimit
from bot.ops.security import MAX_JSON_DEPTH, json_depth
from bot.privacy.addresses import address_hash

log = logging.getLogger(__name__)
router = APIRouter(prefix="/try", tags=["web chat"])

HERE = Path(__file__).resolve().parent
STATIC_FILES = {"try.js": "text/javascript", "try.css": "text/css"}
COOKIE = "helpline_try"
NO_STORE = {"Cache-Control": "no-store"}  # a transcript stays in no cache
SHOWN = (
    MessageStatus.received,
    MessageStatus.handled,
    MessageStatus.sent,
    MessageStatus.delivered,
    MessageStatus.read,
)
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)


class Said(BaseModel):
    """What the person typed or pressed on the page: a text, a button, or both."""

    # The schema says so too, so API clients (and schemathesis) know an empty post is invalid.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["button"], "properties": {"button": {"type": "string"}}},
            ]
        }
    )

    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    text: str | None = Field(default=None, max_length=2000, pattern=r"\S")  # not only spaces
    button: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="before")
    @classmethod
    def _not_nested_too_deeply(cls, data: Any) -> Any:
        if json_depth(data) > MAX_JSON_DEPTH:
            raise ValueError("nested too deeply")
        return data

    @model_validator(mode="after")
    def _says_something(self) -> Said:
        if self.text is None and self.button is None:
            raise ValueError("write something or press a button")
        return self


def _address(request: Request) -> str | None:
    token = request.cookies.get(COOKIE, "")
    return f"try:{token}" if 16 <= len(token) <= 64 else None


def _client_hash(request: Request, settings: Settings) -> str:
    """Who is starting chats, as a keyed hash: the client's address, or its IPv6 /64
    (``ratelimit.client_network``, as the console's login limits count them)."""
    return address_hash(settings, "webchat-client", ratelimit.client_network(request))


class _TooManyNewChats(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


class _TooManyMessages(Exception):
    def __init__(self, refusal: ratelimit.WebchatRefusal, language: str | None) -> None:
        self.refusal = refusal
        self.language = language  # the chat's, when the bot knows it


def _receive(engine: Engine, settings: Settings, inbound: Inbound, client_hash: str) -> bool:
    """``inbox.receive``, with a new chat counted against its client's limit first, and
    a message of a chat already started against the chat's limits."""
    with Session(engine) as session:
        contact = find_contact(session, settings, inbound.channel, inbound.address)
    with session_scope(engine) as session:
        if contact is None or contact.id is None:
            limit = ratelimit.NewChatLimit.from_settings(settings)
            wait = limit.admit(session, client_hash, inbound.received_at)
            if wait is not None:
                raise _TooManyNewChats(wait)
        else:
            chat = ratelimit.WebchatMessageLimit.from_settings(settings)
            refusal = chat.admit(session, contact.id, inbound.received_at)
            if refusal is not None:
                raise _TooManyMessages(refusal, contact.language)
        return inbox.store(session, settings, inbound, now=inbound.received_at) is not None


def _transcript(
    session: Session, settings: Settings, address: str, after: int
) -> tuple[list[dict[str, Any]], str | None]:
    contact = find_contact(session, settings, "webchat", address)
    if contact is None:
        return [], None
    rows = session.exec(
        select(Message)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .where(
            Conversation.contact_id == contact.id,
            col(Message.id) > after,
            col(Message.status).in_(SHOWN),
            Message.direction != Direction.note,
        )
        .order_by(col(Message.id))
    ).all()
    messages = [
        {
            "id": m.id,
            "side": "me" if m.direction == Direction.inbound else m.sender,
            "text": m.text or (f"[{m.media_type}]" if m.media_type else ""),
            "buttons": m.buttons or [],
        }
        for m in rows
    ]
    return messages, contact.language


def _page_language(request: Request, known: str | None) -> str:
    if known:
        return known
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


@router.get("", response_class=HTMLResponse)
def page(request: Request, settings: SettingsDep, engine: EngineDep) -> Response:
    address = _address(request)
    token = None
    if address is None:
        token = secrets.token_urlsafe(24)
        address = f"try:{token}"
    with Session(engine) as session:
        messages, known = _transcript(session, settings, address, 0)
    lang = _page_language(request, known)
    html = templates.get_template("try.html").render(
        _=speaker(settings.locales_dir, lang).gettext,
        lang=lang,
        rtl=lang in RTL_LANGUAGES,
        messages=messages,
        after=messages[-1]["id"] if messages else 0,
        static_url=_path(request, "webchat_static", name="x").rsplit("/", 1)[0],
        messages_url=_path(request, "webchat_messages"),
        restart_url=_path(request, "webchat_restart"),
    )
    response = HTMLResponse(html, headers=NO_STORE)
    if token:
        _set_cookie(response, token, settings)
    return response


@router.get("/messages", name="webchat_messages")
def messages(
    request: Request,
    response: Response,
    settings: SettingsDep,
    engine: EngineDep,
    after: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    address = _address(request)
    if address is None:
        return {"messages": []}
    with Session(engine) as session:
        found, _ = _transcript(session, settings, address, after)
    return {"messages": found}


@router.post(
    "/messages",
    status_code=202,
    responses={
        400: {"description": "no chat cookie: open /try"},
        429: {
            "description": "too many new chats from this address, or messages from this "
            "chat (a minute's, or all it may send): see Retry-After"
        },
        503: {"description": "storage unavailable: try again"},
    },
)
async def say(
    said: Said,
    request: Request,
    response: Response,
    settings: SettingsDep,
    engine: EngineDep,
    wakeup: WakeupDep,
) -> dict[str, bool]:
    response.headers.update(NO_STORE)
    address = _address(request)
    if address is None:
        raise HTTPException(400, "open /try first: no chat cookie")
    text = (said.text or "").strip() or None
    inbound = Inbound(
        channel="webchat",
        address=address,
        provider_message_id=f"try-{said.id}",
        text=text,
        button=said.button if text is None else None,
        media_type=None,
        media_ref=None,
        received_at=utcnow(),
    )
    client_hash = _client_hash(request, settings)
    try:
        stored = await run_in_threadpool(_receive, engine, settings, inbound, client_hash)
    except _TooManyNewChats as refused:
        language = speaker(settings.locales_dir, _page_language(request, None))
        raise HTTPException(
            429,
            language.gettext(
                "Too many new chats were started from your connection. Please try again later."
            ),
            headers={"Retry-After": str(refused.retry_after)},
        ) from None
    except _TooManyMessages as refused:
        language = speaker(settings.locales_dir, _page_language(request, refused.language))
        if refused.refusal.full:
            button = language.gettext("Start again")  # as the page's button says it
            reason = language.gettext(
                'This chat has reached the number of messages it can take. Press "{restart}" '
                "to start a new chat.",
                restart=button,
            )
        else:
            reason = language.gettext(
                "You are writing faster than we can read. Please wait a moment, then send "
                "your message again."
            )
        raise HTTPException(
            429, reason, headers={"Retry-After": str(refused.refusal.retry_after)}
        ) from None
    except SQLAlchemyError as exc:
        raise storage_unavailable("webchat", exc) from exc
    if stored:
        wakeup.set()
    return {"stored": stored}


@router.post("/restart", status_code=204, name="webchat_restart")
def restart(settings: SettingsDep) -> Response:
    response = Response(status_code=204, headers=NO_STORE)
    _set_cookie(response, secrets.token_urlsafe(24), settings)
    return response


@router.get(
    "/static/{name}", name="webchat_static", responses={404: {"description": "no such file"}}
)
def static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise HTTPException(404)
    return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name])


def _path(request: Request, route: str, **params: str) -> str:
    """A route's path on this server (under the ASGI root path, which the server's
    configuration sets): no scheme, no host, nothing taken from the request's headers."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return root + str(request.app.url_path_for(route, **params))


def _set_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=30 * 24 * 3600,
        httponly=True,
        samesite="strict",
        secure=settings.public_url.startswith("https"),
        path="/try",
    )
