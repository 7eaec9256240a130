"""Telegram tests: the app wired to the fake Telegram and Twilio servers."""

# ``settings`` for the whole folder: both providers pointed at their fakes, no worker.
from tests.support.channels import settings_with_fake_providers  # noqa: F401
