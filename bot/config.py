"""Settings: one class, read from ``HELPLINE_*`` environment variables.

Every secret can also come from a file named in ``HELPLINE_<NAME>_FILE`` (Docker and
Kubernetes secrets), and every external service is reached through a configurable
base URL so that tests and air-gapped deployments can point it elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_HOME = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "development-only-secret"})
LANGUAGES = ("nl", "fr", "en", "uk", "ps", "fa")


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
    secret_key: str = "development-only-secret"
    data_key: str = Field(
        default="",
        description="Fernet key that encrypts channel addresses; derived from secret_key "
        "outside production when empty.",
    )
    log_level: str = "INFO"
    metrics_token: str = Field(
        default="",
        description="bearer token that /metrics asks for; without one, /metrics is open "
        "in development only",
    )

    # Content
    knowledge_dir: Path | None = None
    flows_dir: Path | None = None
    locales_dir: Path | None = None
    demo: bool = False

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

    # Webhooks, outbox and the background worker
    run_worker: bool = Field(default=True, description="run the job loop inside `serve`")
    webhook_max_bytes: int = 64 * 1024
    provider_timeout_seconds: float = 15.0
    outbox_batch_size: int = 50
    outbox_lease_seconds: float = 120.0
    outbox_backoff_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 900.0
    outbox_max_attempts: int = 40
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

    # Natural-language understanding
    nlu: Literal["builtin", "rasa"] = "builtin"
    rasa_url: str = "http://127.0.0.1:5005"

    # The human queue
    timezone: str = "Europe/Brussels"
    opening_hours: str = "09:00-12:30"
    opening_days: str = "mon,tue,wed,thu,fri"
    holidays_country: str = "BE"
    emergency_numbers: str = "112"

    # Privacy
    retention_days: int = 90

    @model_validator(mode="after")
    def _fill_defaults_and_refuse_placeholders(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'var' / 'helpline.db'}"
        self.knowledge_dir = self.knowledge_dir or self.home / "knowledge"
        self.flows_dir = self.flows_dir or self.home / "flows"
        self.locales_dir = self.locales_dir or self.home / "locales"
        if self.env == "production":
            weak = [
                name
                for name in ("secret_key", "data_key")
                if getattr(self, name).strip().lower() in PLACEHOLDER_SECRETS
            ]
            if weak:
                raise ValueError(
                    "refusing to start in production with placeholder secrets: "
                    + ", ".join(f"HELPLINE_{name.upper()}" for name in weak)
                )
        if not self.data_key:
            digest = hashlib.sha256(("data-key:" + self.secret_key).encode()).digest()
            self.data_key = base64.urlsafe_b64encode(digest).decode()
        return self

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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
