"""Settings: one class, read from ``HELPLINE_*`` environment variables.

Every secret can also come from a file named in ``HELPLINE_<NAME>_FILE`` (Docker and
Kubernetes secrets), and every external service is reached through a configurable
base URL so that tests and air-gapped deployments can point it elsewhere.

Secrets: no instance runs on a public one. A placeholder secret is refused in every
mode but ``test``. Outside production, secrets the operator did not set are generated
on first start and kept in ``<home>/var/secrets.json`` (mode 0600), which every later
start, and every other process with the same home, reads; production refuses to
start without ``HELPLINE_SECRET_KEY`` and ``HELPLINE_DATA_KEY``, since instances on
several machines or containers would each generate their own.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_HOME = Path(__file__).resolve().parent.parent
# What older versions signed and derived the data key from when no secret was set: it
# is in the source, so it is public. Accepted only with HELPLINE_ENV=test.
DEVELOPMENT_SECRET = "development-only-secret"
PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "secret", DEVELOPMENT_SECRET})
SECRETS_FILE = Path("var") / "secrets.json"
LANGUAGES = ("nl", "fr", "en", "uk", "ps", "fa")
# What `make run` shows for the organisation's details that are not set: clearly fake
# (no such phone number can exist; example.org is reserved for examples).
DEMO_ORGANISATION = {
    "org_name": "Demo Helpline (example)",
    "org_phone": "+32 000 00 00 00 (demo)",
    "org_email": "helpline@example.org",
    "org_whatsapp": "+32 000 00 00 01 (demo)",
    "org_telegram": "@demo_helpline_example",
    "org_website": "https://helpline.example.org",
    "legal_helpdesk_days": "Mon, Wed, Fri 13:30-16:30 (demo)",
    "legal_helpdesk_address": "Example Street 1, 1000 Brussels (demo)",
}


class WebchatQueue(StrEnum):
    """Where /try conversations go in the staff queue (``HELPLINE_WEBCHAT_QUEUE``).

    Anyone can write on /try, "help, he has a knife" too, with nobody behind it.
    """

    normal = "normal"  # like any other channel's: an urgent one at the top
    below = "below"  # after every other channel's conversation, urgent or not
    hidden = "hidden"  # never in the queue: the bot answers (emergency numbers too), not staff


class FileSecretsSource(PydanticBaseSettingsSource):
    """Reads ``HELPLINE_<NAME>_FILE``: the value is the content of the named file."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        path = os.environ.get(f"HELPLINE_{field_name.upper()}_FILE")
        if not path:
            return None, field_name, False
        return Path(path).read_text(encoding="utf-8").strip(), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPLINE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    home: Path = PROJECT_HOME
    database_url: str = ""
    public_url: str = "http://localhost:8000"
    secret_key: str = Field(
        default="",
        description="signs console sessions; generated and kept in <home>/var/secrets.json "
        "outside production when not set",
    )
    data_key: str = Field(
        default="",
        description="Fernet key that encrypts channel addresses; when not set, derived "
        "from an operator's own secret_key, else generated and kept like it",
    )
    old_data_keys: str = Field(
        default="",
        description="former data keys, comma-separated: still read and looked up until "
        "`helpline keys rotate` has re-encrypted everything under data_key",
    )
    log_level: str = "INFO"
    metrics_token: str = Field(
        default="",
        description="bearer token that /metrics asks for; without one, /metrics is open "
        "in development only",
    )

    # Content
    knowledge_dir: Path = Field(default_factory=lambda data: data["home"] / "knowledge")
    flows_dir: Path = Field(default_factory=lambda data: data["home"] / "flows")
    locales_dir: Path = Field(default_factory=lambda data: data["home"] / "locales")
    demo: bool = False
    kb_review_required: bool = Field(
        default=False,
        description="a knowledge-base draft is published by a second person, not its author",
    )
    kb_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="how often every instance checks whether a new knowledge base was "
        "published (it then retrains in the background and switches when ready)",
    )

    # Telegram
    telegram_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_url: str = "https://api.telegram.org/bot"

    # WhatsApp through Twilio
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_whatsapp_from: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    twilio_template_sids: dict[str, str] = Field(
        default_factory=dict,
        description='Approved WhatsApp template Content SID per language, JSON: {"nl": "HX..."}',
    )
    broadcast_template_sids: dict[str, str] = Field(
        default_factory=dict,
        description="Approved WhatsApp template per language that announces a broadcast to "
        "people outside the 24-hour window (JSON, like twilio_template_sids, which is used "
        "when this is not set)",
    )

    # Webhooks, outbox and the background worker
    run_worker: bool = Field(default=True, description="run the job loop inside `serve`")
    webhook_max_bytes: int = 64 * 1024
    max_body_bytes: int = Field(
        default=1024 * 1024,
        description="larger request bodies get 413 on every route, before they are read "
        "(the console's forms and the web chat need a few kilobytes)",
    )
    provider_timeout_seconds: float = 15.0
    outbox_batch_size: int = 50
    outbox_lease_seconds: float = 120.0
    outbox_backoff_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 900.0
    outbox_max_attempts: int = 40
    outbox_rates: str = Field(
        default="whatsapp=80,telegram=30",
        description="messages a second each channel sends at most, per instance "
        "(Twilio's default WhatsApp throughput is 80; Telegram allows about 30 in bulk); "
        "a 429 halves a channel's rate, which doubles back after 15 s without one",
    )
    debounce_seconds: float = Field(
        default=2.0, description="answer once the person paused this long (quick fragments)"
    )
    inbound_limit: int = Field(
        default=20,
        description="messages one person may send per window before the bot stops "
        "answering them (the rest is stored for staff, not answered)",
    )
    inbound_limit_seconds: float = 60.0
    webchat_new_contacts_per_hour: int = Field(
        default=20,
        description="new /try chats one client address may start per hour (0: no limit)",
    )
    webchat_messages_per_minute: int = Field(
        default=10, description="messages one /try chat may send a minute (0: no limit)"
    )
    webchat_messages_per_chat: int = Field(
        default=200, description="messages one /try chat may send in all (0: no limit)"
    )
    webchat_queue: WebchatQueue = Field(
        default=WebchatQueue.below,
        description="where /try conversations go in the staff queue: normal, below, hidden",
    )

    # Natural-language understanding
    nlu: Literal["builtin", "rasa"] = "builtin"
    rasa_url: str = "http://127.0.0.1:5005"

    # The human queue
    timezone: str = "Europe/Brussels"
    opening_hours: str = "09:00-12:30"
    opening_days: str = "mon,tue,wed,thu,fri"
    holidays_country: str = "BE"
    emergency_numbers: str = "112"
    return_to_staff_hours: float = Field(
        default=72.0,
        ge=0,
        description="a person who writes again this long after a staff member closed their "
        "conversation goes back to that staff member (0: never, always the queue)",
    )

    # Machine translation for staff (off unless a server the organisation runs is set)
    translate_url: str = Field(
        default="",
        description="a LibreTranslate-compatible server (POST /translate); empty: off. "
        "The texts staff ask to translate are sent to it (docs/translation.md)",
    )
    translate_api_key: str = Field(default="", description="its api_key, if it asks for one")
    translate_timeout_seconds: float = 10.0

    # The organisation, as the bot names it (a sentence that needs a detail not set here
    # is left out; with HELPLINE_DEMO the demo's clearly fake values stand in)
    org_name: str = Field(default="", description="e.g. Vluchtelingenwerk Vlaanderen")
    org_phone: str = Field(default="", description="the phone number people can call instead")
    org_email: str = Field(default="", description="the e-mail address people can write to")
    org_whatsapp: str = Field(default="", description="the WhatsApp number people can write to")
    org_telegram: str = Field(default="", description="the Telegram handle, e.g. @helpline")
    org_website: str = Field(default="", description="the organisation's website")
    legal_helpdesk_days: str = Field(default="", description="when the legal helpdesk is open")
    legal_helpdesk_address: str = Field(default="", description="where the legal helpdesk is")

    # Privacy
    retention_days: int = 90

    @model_validator(mode="after")
    def _fill_defaults_and_refuse_placeholders(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'var' / 'helpline.db'}"
        self._settle_secrets()
        return self

    def _settle_secrets(self) -> None:
        if self.env == "test":
            self.secret_key = self.secret_key or DEVELOPMENT_SECRET
        else:
            weak = [
                name
                for name in ("secret_key", "data_key")
                if getattr(self, name).strip().lower() in PLACEHOLDER_SECRETS
            ]
            if weak:
                raise ValueError(
                    "refusing to start with a placeholder secret, which is public: "
                    + ", ".join(f"HELPLINE_{name.upper()}" for name in weak)
                    + f" (unset it to have a random one generated and kept in "
                    f"{self.secrets_path}, or set one of your own)"
                )
            if self.env == "production":
                missing = [name for name in ("secret_key", "data_key") if not getattr(self, name)]
                if missing:
                    raise ValueError(
                        "refusing to start in production without "
                        + " and ".join(f"HELPLINE_{name.upper()}" for name in missing)
                        + " (or HELPLINE_<NAME>_FILE): see docs/deploy.md"
                    )
            # An operator's own secret_key still derives the data key, as it always has.
            wants_data_key = not self.data_key and not self.secret_key
            if not self.secret_key or wants_data_key:
                kept = kept_secrets(self.secrets_path)
                self.secret_key = self.secret_key or kept.secret_key
                if wants_data_key:
                    self.data_key = kept.data_key
                    old = [self.old_data_keys, *kept.old_data_keys]
                    self.old_data_keys = ",".join(key for key in old if key)
        if not self.data_key:
            self.data_key = derived_data_key(self.secret_key)
        for key in self.data_keys:
            if not is_fernet_key(key):
                raise ValueError(
                    "HELPLINE_DATA_KEY and HELPLINE_OLD_DATA_KEYS take Fernet keys (32 "
                    "url-safe base64-encoded bytes; see docs/deploy.md to make one)"
                )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, FileSecretsSource(settings_cls), dotenv_settings)

    def organisation_details(self, lang: str | None = None) -> dict[str, str]:
        """The organisation's details that are configured, for answers and flow texts
        (``{org_phone}``): these settings over ``knowledge/organisation.yaml``; with
        ``HELPLINE_DEMO`` the demo's clearly fake values fill the gaps."""
        from bot.nlu.organisation import organisation_values

        overrides = {name: str(getattr(self, name)) for name in DEMO_ORGANISATION}
        details = organisation_values(self.knowledge_dir, overrides, lang)
        if self.demo:
            details = {**DEMO_ORGANISATION, **details}
        return details

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def outbox_rate(self, channel: str) -> float | None:
        """The most messages a second ``channel`` may send (``outbox_rates``); None: no limit."""
        for item in self.outbox_rates.split(","):
            name, _, value = item.partition("=")
            if name.strip() == channel:
                try:
                    rate = float(value)
                except ValueError:
                    return None
                return rate if rate > 0 else None
        return None

    @property
    def secrets_path(self) -> Path:
        """Where secrets the operator did not set are kept (beside the SQLite default)."""
        return self.home / SECRETS_FILE

    @property
    def data_keys(self) -> list[str]:
        """The data key, then the old ones still accepted for reading and lookups."""
        keys = [self.data_key, *(k.strip() for k in self.old_data_keys.split(","))]
        return list(dict.fromkeys(k for k in keys if k))


@lru_cache
def get_settings() -> Settings:
    return Settings()


# --- secrets kept on disk ---------------------------------------------------------------


def derived_data_key(secret_key: str) -> str:
    """The data key made from a secret key when no data key is set."""
    digest = hashlib.sha256(("data-key:" + secret_key).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (binascii.Error, ValueError):
        return False


@dataclass(frozen=True)
class KeptSecrets:
    secret_key: str
    data_key: str
    old_data_keys: list[str]


def kept_secrets(path: Path) -> KeptSecrets:
    """The secrets kept in ``path``, generated on first use.

    Several processes may start at once (``make run``, instances on one machine): the
    file is written aside and hard-linked into place, which fails for all but the
    first, so it appears complete or not at all and everyone reads the same secrets
    back. A new file keeps the key older versions derived from the public placeholder
    as an old data key, so that what they stored stays readable until ``helpline keys
    rotate`` has re-encrypted it (and then drops it).
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = {
            "secret_key": secrets.token_hex(32),
            "data_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "old_data_keys": [derived_data_key(DEVELOPMENT_SECRET)],
        }
        _write_secrets(path, fresh, replace=False)
    if path.stat().st_mode & 0o077:
        raise ValueError(f"{path} may be read by other users: chmod 600 it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return KeptSecrets(
            secret_key=str(data["secret_key"]),
            data_key=str(data["data_key"]),
            old_data_keys=[str(key) for key in data.get("old_data_keys", [])],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a secrets file helpline wrote: {exc}") from exc


def forget_old_data_keys(path: Path) -> list[str]:
    """Drop the old data keys kept in ``path`` (after ``helpline keys rotate``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    dropped = [str(key) for key in data.get("old_data_keys", [])]
    if dropped:
        data["old_data_keys"] = []
        _write_secrets(path, data, replace=True)
    return dropped


def _write_secrets(path: Path, data: dict[str, Any], *, replace: bool) -> None:
    """Write ``path`` whole, mode 0600; unless ``replace``, only if it does not exist."""
    descriptor, aside = tempfile.mkstemp(dir=path.parent, prefix=".secrets-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:  # mkstemp: mode 0600
            json.dump(data, file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(aside, path)
        else:
            with contextlib.suppress(FileExistsError):  # another process was first
                os.link(aside, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(aside)
