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
