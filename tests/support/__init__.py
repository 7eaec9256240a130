"""What tests in more than one folder share: fakes, builders, clients, server starters.

Plain modules, used by name (``from tests.support.flows import Chat``); test modules
never take anything from a conftest file. The fixtures that several folders need are
in the root ``tests/conftest.py``.

One fixture here is not global: ``channels.settings_with_fake_providers``, the
``settings`` of the tests that talk to the fake Telegram and Twilio APIs. A folder's
conftest brings it in for the whole folder (``tests/channels/telegram/``, for one);
a test module in a folder with other settings brings it in for itself.

- ``fakes/``: fake Telegram and Twilio APIs (the benchmarks use them too)
- ``channels``: those settings, captured provider payloads, signed webhook posts
- ``flows``: ``Chat`` (a person talking to the bot, on a clock) and ``FakeMatcher``
- ``staff``, ``factories``: logged-in staff clients; staff, contacts, conversations
- ``database``, ``live_server``, ``serving``, ``browser``: PostgreSQL or SQLite, the
  app served in-process or by ``helpline serve``, headless Chromium
"""

import pkgutil

import pytest

# The helpers hold assertions (several were conftest files, which pytest rewrites):
# keep pytest's detailed failure messages for them. (Outside pytest, a no-op.)
pytest.register_assert_rewrite(*(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)))
