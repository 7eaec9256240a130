"""The knowledge base in the test database, for the console's knowledge pages."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from bot.config import Settings
from bot.kb import store


def import_knowledge(engine: Engine, settings: Settings) -> int:
    """Publish ``knowledge/`` as ``helpline kb import`` does; returns the version."""
    with Session(engine) as session:
        result = store.import_directory(session, settings.knowledge_dir)
        session.commit()
        return result.version


def published_answer(engine: Engine, topic_id: str, lang: str) -> str:
    """What the bot says now (``store.published``) in ``lang`` for ``topic_id``."""
    with Session(engine) as session:
        published = store.published(session)
        assert published is not None
        return published.knowledge().topics[topic_id].answers[lang].answer
