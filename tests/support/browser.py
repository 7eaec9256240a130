"""Headless Debian Chromium for the end-to-end tests (never a downloaded browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps knocking on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# `pytestmark = BROWSER_TESTS` in a module of browser tests.
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"
    ),
]


# How long an ``expect(...)`` waits for its condition. Playwright's default, 5 s, is
# shorter than a busy two-core CI machine sometimes needs to render a page's update
# (seen: a translation shown after more than 5 s while another suite ran). A condition
# met sooner ends the wait sooner: this only lets a slow machine pass what it does right.
EXPECT_TIMEOUT_MS = 20_000


def launch_chromium(playwright: Any) -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
