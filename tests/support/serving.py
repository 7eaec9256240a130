"""``helpline serve`` as deployed: the real command in a subprocess, on a fresh SQLite file.

For the tests that need what only the command brings (uvicorn's proxy headers, the
lifespan as started by the CLI), not the in-process ``live_server``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.load import free_port, stop, wait_until_up
from bot import db

HELPLINE = str(Path(sys.executable).parent / "helpline")


@contextmanager
def helpline_serve(
    database: Path,
    *,
    secret_key: str | None,
    forwarded_allow_ips: str | None = None,
    **env: str,
) -> Iterator[str]:
    """Migrate ``database``, serve it until the block ends, and give the base URL.

    No background worker, warnings only. ``secret_key`` None: none is given, so the
    instance keeps its own under ``HELPLINE_HOME`` (which ``env`` should then set).
    ``forwarded_allow_ips`` is uvicorn's FORWARDED_ALLOW_IPS (None: its default, the
    proxy is 127.0.0.1, whatever the calling environment says); ``env`` adds settings
    such as ``HELPLINE_WEBCHAT_NEW_CONTACTS_PER_HOUR``.
    """
    url = f"sqlite:///{database}"
    db.upgrade(url)
    port = free_port()
    environment = dict(
        os.environ,
        HELPLINE_DATABASE_URL=url,
        HELPLINE_RUN_WORKER="false",
        HELPLINE_LOG_LEVEL="WARNING",
        **env,
    )
    environment.pop("HELPLINE_SECRET_KEY", None)
    if secret_key is not None:
        environment["HELPLINE_SECRET_KEY"] = secret_key
    environment.pop("FORWARDED_ALLOW_IPS", None)
    if forwarded_allow_ips is not None:
        environment["FORWARDED_ALLOW_IPS"] = forwarded_allow_ips
    process = subprocess.Popen([HELPLINE, "serve", "--port", str(port)], env=environment)
    try:
        wait_until_up(port, "/readyz", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
