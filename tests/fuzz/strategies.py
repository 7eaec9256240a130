"""Hypothesis profiles and the text that real inboxes receive and attackers send.

``HELPLINE_FUZZ_PROFILE=deep`` (what ``make fuzz`` sets) runs many more examples;
the default keeps the suite fast. Also the webhook secret of the fuzz tests' settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "suite",
    max_examples=60,
    deadline=None,  # no timing assertions: the database and the matcher vary
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one app and database per test, many examples
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    derandomize=True,  # the suite stays reproducible; `make fuzz` explores
)
settings.register_profile("deep", parent=settings.get_profile("suite"), max_examples=1000)
settings.register_profile("deep-random", parent=settings.get_profile("deep"), derandomize=False)
FUZZ = settings(settings.get_profile(os.environ.get("HELPLINE_FUZZ_PROFILE", "suite")))

# The fake Telegram's webhook secret in the fuzz tests' ``settings`` (see conftest.py).
WEBHOOK_SECRET = "fuzz-webhook-secret"

# Characters that break naive text handling: bidirectional overrides and isolates,
# zero-width joiners and spaces, a byte-order mark, combining marks, NUL and other
# controls, line and paragraph separators, and the scripts of the helpline.
TRICKY = (
    "\u202e\u202d\u202a\u202b\u202c\u2066\u2067\u2068\u2069\u200e\u200f"
    "\u200b\u200c\u200d\u2060\ufeff"
    "\u0301\u0651\u064b"
    "\x00\x01\x1b\x7f\r\n\t\u2028\u2029\u0085"
    "ساپښځيک\u06ccabcЖжії 123<>&\"'%;=+/\\"
)
# Any character that UTF-8 can carry (a lone surrogate cannot even be sent).
tricky_text = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(codec="utf-8"), max_size=300)
# One long run of a few characters: up to 100 kB, cheap to generate.
long_text = st.builds(
    lambda chunk, times: (chunk * times)[:100_000],
    st.text(alphabet=st.sampled_from(TRICKY), min_size=1, max_size=20),
    st.integers(min_value=1_000, max_value=100_000),
)
any_text = tricky_text | long_text
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4)
    ),
    max_leaves=12,
)

# Integers past what a row id (PostgreSQL's INTEGER), a date or a C long can hold, and the
# edges around them: a database driver raises on them (a 500) unless the route bounds its
# parameter.
LARGEST_ID = 2**31 - 1
out_of_range_integers = (
    st.integers(min_value=LARGEST_ID + 1)
    | st.integers(max_value=0)
    | st.sampled_from([LARGEST_ID + 1, 2**63 - 1, 2**63, 2**64, 10**20, -(2**63) - 1, -(10**20)])
)
any_integers = (
    st.integers()
    | out_of_range_integers
    | st.integers(min_value=LARGEST_ID - 2, max_value=LARGEST_ID)
)


def nest(depth: int, kinds: list[bool], inside: str = "1") -> str:
    """JSON nested ``depth`` deep: an array or an object at each level, as ``kinds`` says."""
    opening = "".join('{"k":' if kinds[i % len(kinds)] else "[" for i in range(depth))
    closing = "".join("}" if kinds[i % len(kinds)] else "]" for i in reversed(range(depth)))
    return opening + inside + closing


# JSON values nested from a few levels to far past what the parser's recursion allows.
deeply_nested_json = st.builds(
    nest,
    st.integers(min_value=1, max_value=40) | st.integers(min_value=40, max_value=20_000),
    st.lists(st.booleans(), min_size=1, max_size=4),
)
