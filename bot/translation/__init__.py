"""Machine translation for staff, by a server the organisation runs itself.

Off unless ``HELPLINE_TRANSLATE_URL`` names a LibreTranslate-compatible server: its
``POST /translate`` takes ``q``, ``source`` (a language, or ``auto``), ``target``,
``format`` and, when the server asks for one, ``api_key``, and answers
``{"translatedText": ...}``. The text staff ask to translate goes to that server and
nowhere else; nothing is stored (docs/translation.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from bot.config import Settings

log = logging.getLogger(__name__)

AUTO = "auto"
# Our language codes as LibreTranslate knows them: Dari is written Persian ("fa").
SERVER_CODES = {"nl": "nl", "fr": "fr", "en": "en", "uk": "uk", "ps": "ps", "fa": "fa"}


class TranslationError(Exception):
    """The server did not translate: down, too slow, refused, or answered nonsense.

    ``reason`` is short and holds no text: ``unreachable``, ``timeout``, ``refused``
    (with the HTTP status) or ``invalid``.
    """

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason if status is None else f"{reason} ({status})")
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Translator:
    url: str
    api_key: str = ""
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Translator | None:
        if not settings.translate_url.strip():
            return None
        return cls(
            settings.translate_url.strip().rstrip("/"),
            settings.translate_api_key,
            settings.translate_timeout_seconds,
        )

    def translate(self, text: str, *, source: str | None, target: str) -> str:
        """``text`` in ``target``; ``source`` None or unknown: the server detects it."""
        payload = {
            "q": text,
            "source": SERVER_CODES.get(source or "", AUTO),
            "target": SERVER_CODES.get(target, target),
            "format": "text",
        }
        if self.api_key:
            payload["api_key"] = self.api_key
        try:
            response = httpx.post(f"{self.url}/translate", json=payload, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise TranslationError("timeout") from exc
        except httpx.HTTPError as exc:
            raise TranslationError("unreachable") from exc
        if response.status_code != 200:
            raise TranslationError("refused", response.status_code)
        try:
            translated = response.json()["translatedText"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TranslationError("invalid") from exc
        if not isinstance(translated, str):
            raise TranslationError("invalid")
        return translated
