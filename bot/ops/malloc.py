"""Keeping a long-running process's memory flat: glibc's malloc arenas and trim.

Database work runs in threads that come and go, and glibc gives such threads arenas
of their own whose free memory it keeps. Two things hand it back:

- ``limit_malloc_arenas``: two arenas (what ``MALLOC_ARENA_MAX=2`` does), set first
  thing by ``helpline serve`` and ``helpline worker``, before any thread runs; an
  operator's own ``MALLOC_ARENA_MAX`` (or ``GLIBC_TUNABLES=glibc.malloc.arena_max``)
  wins.
- ``FreeMemoryTrim``: a worker job that calls ``malloc_trim(0)`` at most once a second.

On anything but Linux with glibc (macOS, musl-based images) both do nothing. What
was measured, and why this and not something else: ``bench/README.md``, the soak.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping

log = logging.getLogger(__name__)

ARENAS = 2
TRIM_SECONDS = 1.0
M_ARENA_MAX = -8  # glibc's malloc.h
ENV = "MALLOC_ARENA_MAX"
TUNABLE = "glibc.malloc.arena_max"


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)  # the running process's own libc
    except OSError:
        return None


def operator_chose(environ: Mapping[str, str]) -> bool:
    """The operator set the arena limit themselves (glibc has read it already)."""
    return ENV in environ or TUNABLE in environ.get("GLIBC_TUNABLES", "")


def limit_malloc_arenas(
    arenas: int = ARENAS,
    *,
    environ: MutableMapping[str, str] | None = None,
    libc: ctypes.CDLL | None = None,
) -> bool:
    """At most ``arenas`` malloc arenas in this process and in the processes it starts.

    True when the limit was set here; False when the operator chose one or when this
    is not glibc. The variable is exported too, for ``serve --workers N``'s worker
    processes (glibc reads it when a process starts; this process has started).
    """
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    if operator_chose(env):
        return False
    libc = libc if libc is not None else _glibc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None or not mallopt(M_ARENA_MAX, arenas):
        return False
    env[ENV] = str(arenas)
    log.debug("malloc arenas limited to %d", arenas)
    return True


class FreeMemoryTrim:
    """A worker job: hand the free pages inside glibc's arenas back to the system.

    At most once every ``every`` seconds, however often the worker wakes it (every
    job wakes whenever another did work, so several times a second under load).
    """

    def __init__(
        self,
        every: float = TRIM_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        libc: ctypes.CDLL | None = None,
    ) -> None:
        self.every = every
        self.clock = clock
        self._trim = getattr(libc if libc is not None else _glibc(), "malloc_trim", None)
        self._last: float | None = None

    def __call__(self, *_: object, **__: object) -> int:
        now = self.clock()
        if self._trim is not None and (self._last is None or now - self._last >= self.every):
            self._last = now
            self._trim(0)
        return 0  # no work done: the worker sleeps until the next interval
