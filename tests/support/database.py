"""Which database the database-touching tests run on.

SQLite files by default; ``HELPLINE_TEST_DATABASE_URL=postgresql://...`` (as
``.ci/run`` sets it) runs them on PostgreSQL instead, and enables the tests that
need PostgreSQL's row locks.
"""

from __future__ import annotations

import os

POSTGRES_URL = os.environ.get("HELPLINE_TEST_DATABASE_URL", "")
