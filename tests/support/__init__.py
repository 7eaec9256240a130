"""What tests in more than one folder share: fakes, builders, clients, server starters.

Plain modules, imported by name (``from tests.support.flows import Chat``); no test
module imports a ``conftest.py``. The fixtures that several folders need are in
``tests/conftest.py``. One fixture here is not global but taken by importing it:
``tests.support.channels.settings_with_fake_providers``, the ``settings`` of the
tests that talk to the fake Telegram and Twilio APIs (a folder's ``conftest.py``
imports it for the whole folder, a test module for itself).

- ``fakes/``: fake Telegram and Twilio APIs (the benchmarks use them too)
- ``channels``: that ``settings``, captured provider payloads, signed webhook posts
- ``flows``: ``Chat`` (a person talking to the bot, on a clock) and ``FakeMatcher``
- ``staff``, ``factories``: logged-in staff clients; staff, contacts, conversations
- ``database``, ``live_server``, ``serving``, ``browser``: PostgreSQL, the app served
  in-process or by ``helpline serve``, headless Chromium
"""

import pkgutil

import pytest

# The helpers hold assertions (several were conftest files, which pytest rewrites):
# keep pytest's detailed failure messages for them. (Outside pytest, a no-op.)
pytest.register_assert_rewrite(*(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)))
