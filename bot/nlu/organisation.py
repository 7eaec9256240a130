"""The organisation's own details, placed into answers and flow texts by name.

A knowledge-base answer says ``{org_phone}``, never a number typed into the text, so
that any refugee council can run the same knowledge base with its own details. The
names are fixed (``ANSWER_PLACEHOLDERS``); ``helpline kb validate`` refuses any other.
A line that needs a detail the organisation has not configured is left out when the
answer is sent (``fill``): the bot never sends a raw placeholder and never invents.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path

import yaml

ANSWER_PLACEHOLDERS = frozenset(
    {
        "org_name",
        "org_phone",
        "org_email",
        "org_whatsapp",
        "org_telegram",
        "org_website",
        "opening_hours",
        "legal_helpdesk_days",
        "legal_helpdesk_address",
    }
)


def placeholders(text: str) -> Iterator[str]:
    """The names ``text`` fills in (``{org_phone}``)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:  # a lone brace: not a placeholder
        return
    for _, name, _, _ in parsed:
        if name:
            yield name


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with its placeholders filled from ``values``; a line that needs a value
    that is missing (not configured) is left out."""
    lines = []
    for line in text.split("\n"):
        names = set(placeholders(line))
        if not names:
            lines.append(line)
        elif names <= values.keys():
            lines.append(line.format_map({name: values[name] for name in names}))
    return "\n".join(lines)


# The file beside the topics, and the settings that override it (``HELPLINE_ORG_PHONE``).
ORGANISATION_FILE = "organisation.yaml"
FILE_KEYS = {
    "name": "org_name",
    "phone": "org_phone",
    "email": "org_email",
    "whatsapp": "org_whatsapp",
    "telegram": "org_telegram",
    "website": "org_website",
    "legal_helpdesk_days": "legal_helpdesk_days",
    "legal_helpdesk_address": "legal_helpdesk_address",
}


class OrganisationError(ValueError):
    pass


def read_organisation(path: Path) -> dict[str, str | dict[str, str]]:
    """The details in ``path`` (``knowledge/organisation.yaml``) by placeholder name:
    a text, or a text per language; empty ones left out. No file: no details."""
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise OrganisationError(f"{path.name}: must be a mapping of details")
    details: dict[str, str | dict[str, str]] = {}
    for key, value in raw.items():
        if key == "sources":
            continue
        if key not in FILE_KEYS:
            known = ", ".join(FILE_KEYS)
            raise OrganisationError(f"{path.name}: unknown detail {key!r} (known: {known})")
        if isinstance(value, dict):
            texts = {str(lang): str(text).strip() for lang, text in value.items() if text}
            if texts:
                details[FILE_KEYS[key]] = {k: v for k, v in texts.items() if v}
        elif value is not None and str(value).strip():
            details[FILE_KEYS[key]] = str(value).strip()
    return details


@lru_cache(maxsize=8)
def _cached(path: Path, mtime: float) -> dict[str, str | dict[str, str]]:
    return read_organisation(path)


def organisation_values(
    knowledge_dir: Path, overrides: Mapping[str, str], lang: str | None = None
) -> dict[str, str]:
    """The organisation's configured details for one language: the settings'
    (``overrides``, non-empty ones) over ``organisation.yaml``'s. A detail given per
    language and missing in ``lang`` falls back to English, else it is not configured."""
    path = Path(knowledge_dir) / ORGANISATION_FILE
    try:
        stored = _cached(path.resolve(), path.stat().st_mtime)
    except FileNotFoundError:
        stored = {}
    values: dict[str, str] = {}
    for name, value in stored.items():
        if isinstance(value, dict):
            text = value.get(lang or "en") or value.get("en")
            if text:
                values[name] = text
        else:
            values[name] = value
    values.update({name: text.strip() for name, text in overrides.items() if text.strip()})
    return values
