"""Security tests: the app wired to the fake providers, no background worker.

Tests drive the inbox by hand with the small ``FakeMatcher`` of the flow tests (the
``flows`` fixture), so a test decides when time passes and what the bot "understands".
"""

# ``settings`` for the whole folder: both providers pointed at their fakes, no worker.
from tests.support.channels import settings_with_fake_providers  # noqa: F401
