"""The malloc arena limit that keeps a long-running instance's memory flat."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from bot.ops import malloc as memory


class FakeLibc:
    """glibc's ``mallopt`` and ``malloc_trim`` as far as bot.ops.malloc uses them."""

    def __init__(self, accepts: bool = True) -> None:
        self.calls: list[tuple[int, int]] = []
        self.trims = 0
        self.accepts = accepts

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append((option, value))
        return 1 if self.accepts else 0

    def malloc_trim(self, pad: int) -> int:
        self.trims += 1
        return 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_two_arenas_are_set_and_passed_on_to_worker_processes() -> None:
    libc = FakeLibc()
    environ: dict[str, str] = {}
    assert memory.limit_malloc_arenas(environ=environ, libc=libc)  # type: ignore[arg-type]
    assert libc.calls == [(memory.M_ARENA_MAX, 2)]
    assert environ["MALLOC_ARENA_MAX"] == "2"


@pytest.mark.parametrize(
    "environ",
    [{"MALLOC_ARENA_MAX": "8"}, {"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"}],
)
def test_the_operators_own_arena_limit_wins(environ: dict[str, str]) -> None:
    libc = FakeLibc()
    chosen = dict(environ)
    assert not memory.limit_malloc_arenas(environ=chosen, libc=libc)  # type: ignore[arg-type]
    assert libc.calls == []
    assert chosen == environ


def test_without_glibc_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    environ: dict[str, str] = {}
    assert not memory.limit_malloc_arenas(environ=environ)
    assert environ == {}


def test_a_refused_limit_is_not_passed_on() -> None:
    environ: dict[str, str] = {}
    libc = FakeLibc(accepts=False)
    assert not memory.limit_malloc_arenas(environ=environ, libc=libc)  # type: ignore[arg-type]
    assert environ == {}


CHILD = """
import os, subprocess, sys
from bot.ops import malloc as memory
print(memory.limit_malloc_arenas())
print(subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('MALLOC_ARENA_MAX'))"],
                     capture_output=True, text=True, check=True).stdout.strip())
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc only",
)
@pytest.mark.parametrize(("given", "limited", "seen"), [(None, "True", "2"), ("4", "False", "4")])
def test_glibc_takes_the_limit_and_the_processes_started_after_it_inherit_it(
    given: str | None, limited: str, seen: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    if given is not None:
        env["MALLOC_ARENA_MAX"] = given
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    assert out == [limited, seen]


def test_free_memory_is_trimmed_once_per_interval_however_often_the_job_is_woken() -> None:
    libc, clock = FakeLibc(), Clock()
    trim = memory.FreeMemoryTrim(10.0, clock=clock, libc=libc)  # type: ignore[arg-type]
    assert trim() == 0  # never "did work": the worker would run it again at once
    for _ in range(50):  # woken by every other job that did work
        clock.now += 0.1
        trim()
    assert libc.trims == 1
    clock.now += 5.0
    trim()
    assert libc.trims == 2


def test_trimming_without_glibc_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.FreeMemoryTrim()() == 0
