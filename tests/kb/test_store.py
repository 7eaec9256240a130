"""The knowledge base in the database: what an editor, a reviewer and the IT volunteer
who keeps ``knowledge/`` in git see happen."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.config import PROJECT_HOME
from bot.kb import store
from bot.kb.yamltext import load_topic
from bot.models import AuditEntry, KbRevisionStatus, KbStaffExample, Role, StaffUser
from bot.nlu.knowledge import load_knowledge

KNOWLEDGE = PROJECT_HOME / "knowledge"
TOPIC = "reception.center_life"


def _staff(session: Session, email: str, role: str = Role.editor) -> StaffUser:
    user = StaffUser(email=email, name=email.split("@")[0], password_hash="x", role=role)
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    with Session(engine) as session:
        store.import_directory(session, KNOWLEDGE)
        session.commit()
    return engine


def _files(path: Path) -> dict[str, bytes]:
    return {file.name: file.read_bytes() for file in sorted(path.iterdir()) if file.is_file()}


def test_an_unchanged_knowledge_base_exports_as_knowledge_byte_for_byte(
    loaded: Engine, tmp_path: Path
) -> None:
    with Session(loaded) as session:
        store.export_directory(session, tmp_path / "out")
    assert _files(tmp_path / "out") == _files(KNOWLEDGE)


def test_import_export_import_loses_nothing_and_changes_nothing(
    loaded: Engine, tmp_path: Path
) -> None:
    with Session(loaded) as session:
        editor = _staff(session, "eva@example.org")
        draft = store.save_draft(
            session,
            TOPIC,
            editor,
            changes={"languages": {"fa": {"answer": "متن تازه\nسطر دوم"}}},
        )
        version = store.publish(session, draft.id or 0, editor)
        session.commit()
        store.export_directory(session, tmp_path / "out")

    with Session(loaded) as session:
        again = store.import_directory(session, tmp_path / "out")
    assert (again.added, again.changed, again.removed) == ([], [], [])
    assert again.version == version

    exported = load_knowledge(tmp_path / "out")
    original = load_knowledge(KNOWLEDGE)
    assert exported.topics[TOPIC].answers["fa"].answer == "متن تازه\nسطر دوم"
    assert exported.topics[TOPIC].answers["nl"] == original.topics[TOPIC].answers["nl"]
    # Every other topic is the same file, byte for byte.
    changed = {
        name
        for name, content in _files(tmp_path / "out").items()
        if _files(KNOWLEDGE).get(name) != content
    }
    assert changed == {f"{TOPIC}.yaml"}


def test_a_publish_is_what_the_published_knowledge_base_says_and_raises_the_version(
    loaded: Engine,
) -> None:
    with Session(loaded) as session:
        before = store.state(session).version
        editor = _staff(session, "eva@example.org")
        draft = store.save_draft(
            session, TOPIC, editor, changes={"languages": {"nl": {"title": "Leven in het centrum"}}}
        )
        # A draft is not what the bot says yet.
        current = store.published(session)
        assert current is not None
        assert current.knowledge().topics[TOPIC].answers["nl"].title != "Leven in het centrum"
        assert draft.changed == ["nl.title"]

        assert store.publish(session, draft.id or 0, editor) == before + 1
        session.commit()
        current = store.published(session)
        assert current is not None
        assert current.knowledge().topics[TOPIC].answers["nl"].title == "Leven in het centrum"
        actions = session.exec(select(AuditEntry.action)).all()
        assert "kb_draft" in actions and "kb_publish" in actions


def test_a_knowledge_base_that_fails_validation_is_not_published(loaded: Engine) -> None:
    with Session(loaded) as session:
        before = store.state(session).version
        editor = _staff(session, "eva@example.org")
        draft = store.save_draft(
            session,
            TOPIC,
            editor,
            changes={"languages": {"ps": {"examples": ["یوازې یوه بېلګه"]}}},
        )
        with pytest.raises(store.KbEditError) as refused:
            store.publish(session, draft.id or 0, editor)
        assert any("ps" in error and "examples" in error for error in refused.value.errors)
        assert store.state(session).version == before
        published = store.published_of(session, TOPIC)
        assert published is not None and "یوازې یوه بېلګه" not in published.content


def test_a_broken_topic_text_cannot_even_be_saved(loaded: Engine) -> None:
    with Session(loaded) as session:
        editor = _staff(session, "eva@example.org")
        with pytest.raises(store.KbEditError):
            store.save_draft(session, TOPIC, editor, content="id: [unclosed")
        with pytest.raises(store.KbEditError):
            store.save_draft(session, TOPIC, editor, changes={"kind": "gossip"})


def test_with_review_required_a_second_person_publishes(loaded: Engine) -> None:
    with Session(loaded) as session:
        author = _staff(session, "eva@example.org")
        reviewer = _staff(session, "rui@example.org")
        draft = store.save_draft(
            session, TOPIC, author, changes={"languages": {"en": {"title": "Life in the centre"}}}
        )
        with pytest.raises(store.KbEditError, match="second person"):
            store.publish(session, draft.id or 0, author, review_required=True)
        store.publish(session, draft.id or 0, reviewer, review_required=True)
        published = store.published_of(session, TOPIC)
        assert published is not None
        assert (published.id, published.published_by_id) == (draft.id, reviewer.id)


def test_what_the_bot_says_in_an_emergency_only_an_admin_changes(loaded: Engine) -> None:
    with Session(loaded) as session:
        editor = _staff(session, "eva@example.org")
        admin = _staff(session, "ada@example.org", Role.admin)
        change = {"languages": {"en": {"title": "Emergency"}}}
        for topic_id in ("urgent", "urgent.self_harm"):
            with pytest.raises(store.KbEditError, match="admin"):
                store.save_draft(session, topic_id, editor, changes=change)
        draft = store.save_draft(session, "urgent", admin, changes=change)
        store.publish(session, draft.id or 0, admin)
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "kb_publish")).one()
        assert (entry.staff_id, entry.target) == (admin.id, "urgent")


def test_saving_again_replaces_the_draft_and_history_keeps_every_version(loaded: Engine) -> None:
    with Session(loaded) as session:
        editor = _staff(session, "eva@example.org")
        first = store.save_draft(
            session, TOPIC, editor, changes={"languages": {"fr": {"title": "Vie au centre"}}}
        )
        second = store.save_draft(
            session, TOPIC, editor, changes={"languages": {"fr": {"title": "La vie au centre"}}}
        )
        assert store.draft_of(session, TOPIC) == second
        assert first.status == KbRevisionStatus.superseded
        numbers = [revision.number for revision in store.history(session, TOPIC)]
        assert numbers == [3, 2, 1]
        diff = store.diff(store.published_of(session, TOPIC), second)
        assert any(line.startswith("+") and "La vie au centre" in line for line in diff)


def test_revert_gives_a_draft_of_an_earlier_text(loaded: Engine) -> None:
    with Session(loaded) as session:
        editor = _staff(session, "eva@example.org")
        original = store.published_of(session, TOPIC)
        assert original is not None
        draft = store.save_draft(
            session, TOPIC, editor, changes={"languages": {"uk": {"title": "Життя в центрі!"}}}
        )
        store.publish(session, draft.id or 0, editor)
        back = store.revert(session, TOPIC, original.number, editor)
        assert back.status == KbRevisionStatus.draft
        assert back.content == original.content
        store.publish(session, back.id or 0, editor)
        published = store.published_of(session, TOPIC)
        assert published is not None and published.content == original.content


def test_marking_reviewed_records_the_date_the_note_and_the_languages(loaded: Engine) -> None:
    import datetime as dt

    with Session(loaded) as session:
        editor = _staff(session, "eva@example.org")
        before = store.state(session).version
        version = store.mark_reviewed(
            session,
            TOPIC,
            editor,
            languages=["ps", "fa"],
            note="checked against fedasil.be",
            today=dt.date(2027, 1, 5),
        )
        assert version == before + 1
        published = store.published_of(session, TOPIC)
        assert published is not None and published.reviewed_languages == ["ps", "fa"]
        raw = load_topic(published.content)
        assert (raw["reviewed_on"], raw["review_note"]) == (
            dt.date(2027, 1, 5),
            "checked against fedasil.be",
        )


def test_an_added_example_is_a_draft_and_is_remembered_as_a_staff_example(
    loaded: Engine,
) -> None:
    with Session(loaded) as session:
        editor = _staff(session, "eva@example.org")
        draft = store.add_example(
            session, TOPIC, "ps", "  زموږ   په کمپ کې ډوډۍ ښه نه ده  ", editor
        )
        assert draft.status == KbRevisionStatus.draft and draft.changed == ["ps.examples"]
        example = session.exec(select(KbStaffExample)).one()
        assert (example.topic_id, example.language, example.text) == (
            TOPIC,
            "ps",
            "زموږ په کمپ کې ډوډۍ ښه نه ده",
        )
        assert (
            "زموږ په کمپ کې ډوډۍ ښه نه ده"
            in load_topic(draft.content)["languages"]["ps"]["examples"]
        )


def test_importing_a_folder_publishes_only_what_changed_and_removes_what_it_lacks(
    loaded: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    text = (folder / f"{TOPIC}.yaml").read_text(encoding="utf-8")
    (folder / f"{TOPIC}.yaml").write_text(text.replace("kind: faq", "kind: faq\n"), "utf-8")
    with Session(loaded) as session:
        result = store.import_directory(session, folder, remove_missing=True)
        assert (result.changed, result.added, result.removed) == ([TOPIC], [], [])
        # A folder that fails validation changes nothing.
        (folder / "asylum.apply.yaml").unlink()
        before = store.state(session).version
        with pytest.raises(store.KbEditError):
            store.import_directory(session, folder)
        assert store.state(session).version == before


def test_the_cli_imports_exports_and_validates_the_database(
    helpline_cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    imported = helpline_cli.invoke(cli, ["kb", "import", str(KNOWLEDGE)], catch_exceptions=False)
    assert imported.exit_code == 0, imported.output
    result = json.loads(imported.stdout)
    assert set(result) == {"added", "changed", "removed", "unchanged", "version"}
    assert (result["version"], result["changed"], result["removed"]) == (1, [], [])
    assert len(result["added"]) == len(list(KNOWLEDGE.glob("*.yaml"))) - 1  # organisation

    exported = helpline_cli.invoke(cli, ["kb", "export", str(tmp_path / "out")])
    assert exported.exit_code == 0, exported.output
    assert _files(tmp_path / "out") == _files(KNOWLEDGE)

    checked = helpline_cli.invoke(cli, ["kb", "validate", "--database"])
    assert checked.exit_code == 0, checked.output
    assert "0 errors" in checked.stdout


def test_the_first_upgrade_loads_knowledge_and_a_second_leaves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.config import get_settings

    monkeypatch.setenv("HELPLINE_ENV", "test")
    monkeypatch.setenv("HELPLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(cli, ["db", "upgrade"], catch_exceptions=False)
        assert first.exit_code == 0, first.output
        assert "knowledge base loaded" in first.stdout
        second = runner.invoke(cli, ["db", "upgrade"], catch_exceptions=False)
        assert "knowledge base loaded" not in second.stdout
    finally:
        get_settings.cache_clear()
