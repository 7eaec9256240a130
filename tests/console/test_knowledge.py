"""The knowledge pages: editors correct, review and publish topics; staff cannot."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.kb import store
from bot.models import AuditEntry
from tests.console.knowledge_support import import_knowledge, published_answer
from tests.support.staff import Staff, make_staff

TOPIC = "asylum.apply"
PAGE = f"/console/knowledge/topics/{TOPIC}"


@pytest.fixture
def knowledge(engine: Engine, settings: Settings) -> None:
    import_knowledge(engine, settings)


@pytest.fixture
def editor(engine: Engine, app: FastAPI, knowledge: None) -> Iterator[Staff]:
    staff = make_staff(engine, app, "eddie@example.org", role="editor").login()
    yield staff
    staff.client.close()


@pytest.fixture
def second_editor(engine: Engine, app: FastAPI, knowledge: None) -> Iterator[Staff]:
    staff = make_staff(engine, app, "erin@example.org", role="editor").login()
    yield staff
    staff.client.close()


def base_number(page: str) -> str:
    found = re.search(r'name="base_number" value="(\d+)"', page)
    assert found
    return found.group(1)


def form_of(staff: Staff, page_path: str = PAGE) -> dict[str, str]:
    """The edit form as the page fills it (like a browser submitting it unchanged)."""
    page = staff.get(page_path).text
    form = page[page.index('id="kb-edit"') :]
    form = form[: form.index("</form>")]
    values = {"base_number": base_number(page)}
    for name, value in re.findall(r'<input type="text" name="(\w+)" value="([^"]*)"', form):
        values[name] = value
    for name, value in re.findall(r'<input type="number" name="(\w+)" min="1" value="(\d*)"', form):
        values[name] = value
    for name, value in re.findall(
        r'<textarea name="(\w+)" rows="\d+">(.*?)</textarea>', form, re.S
    ):
        values[name] = value
    return {k: html.unescape(v) for k, v in values.items()}


def test_plain_staff_cannot_open_or_change_the_knowledge_base(
    alice: Staff, knowledge: None
) -> None:
    assert alice.get("/console/knowledge").status_code == 403
    assert alice.get(PAGE).status_code == 403
    assert alice.get(f"{PAGE}/history").status_code == 403
    assert alice.get("/console/knowledge/urgent-rules").status_code == 403
    assert alice.post(f"{PAGE}/draft", {"title_en": "x"}).status_code == 403
    assert alice.post(f"{PAGE}/publish").status_code == 403
    assert 'href="/console/knowledge"' not in alice.get("/console/queue").text


def test_an_editor_sees_every_topic_by_language_with_its_status(editor: Staff) -> None:
    page = editor.get("/console/knowledge")
    assert page.status_code == 200
    assert 'href="/console/knowledge"' in editor.get("/console/queue").text  # in the nav
    rows = re.findall(r'<tr data-topic="([^"]+)"', page.text)
    assert len(rows) >= 60 and TOPIC in rows
    row = page.text[page.text.index(f'data-topic="{TOPIC}"') :].split("</tr>")[0]
    assert row.count('data-status="published"') == 6
    missing = editor.get("/console/knowledge?status=missing")
    assert missing.status_code == 200


def test_a_changed_translation_makes_the_others_stale_until_reviewed(
    editor: Staff, second_editor: Staff, engine: Engine
) -> None:
    form = form_of(editor)
    form["answer_fa"] = form["answer_fa"] + "\nیک خط تازه.\n"
    assert editor.post(f"{PAGE}/draft", form).status_code == 303
    page = editor.get("/console/knowledge?status=draft&lang=fa").text
    assert f'data-topic="{TOPIC}"' in page
    draft = second_editor.get(PAGE).text
    assert (
        second_editor.post(f"{PAGE}/publish", {"base_number": base_number(draft)}).status_code
        == 303
    )

    stale = editor.get("/console/knowledge?status=stale&lang=nl").text
    assert f'data-topic="{TOPIC}"' in stale
    assert f'data-topic="{TOPIC}"' not in editor.get("/console/knowledge?status=stale&lang=fa").text
    reviewed = editor.post(f"{PAGE}/reviewed", {"reviewed": "nl", "note": "compared with fa"})
    assert reviewed.status_code == 303
    assert f'data-topic="{TOPIC}"' not in editor.get("/console/knowledge?status=stale&lang=nl").text
    assert f'data-topic="{TOPIC}"' in editor.get("/console/knowledge?status=stale&lang=en").text


def test_a_script_in_an_answer_is_shown_as_text(editor: Staff) -> None:
    form = form_of(editor)
    form["answer_en"] = "<script>alert('x')</script>\nCome early."
    assert editor.post(f"{PAGE}/draft", form).status_code == 303
    page = editor.get(PAGE).text
    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert(" in page


def test_a_form_without_its_csrf_token_is_refused(editor: Staff, engine: Engine) -> None:
    form = form_of(editor)
    form["answer_fa"] = "متن تازه"
    response = editor.client.post(f"{PAGE}/draft", data=form, follow_redirects=False)
    assert response.status_code == 403
    with Session(engine) as session:
        assert store.draft_of(session, TOPIC) is None


def test_saving_a_draft_changes_nothing_the_bot_says_until_published(
    editor: Staff, second_editor: Staff, engine: Engine
) -> None:
    before = published_answer(engine, TOPIC, "fa")
    form = form_of(editor)
    form["answer_fa"] = "جواب اصلاح شده.\n" + form["answer_fa"]
    response = editor.post(f"{PAGE}/draft", form)
    assert response.headers["location"].endswith("?notice=saved")
    assert published_answer(engine, TOPIC, "fa") == before
    page = editor.get(PAGE).text
    assert "Open draft #" in page and "fa.answer" in page
    assert "جواب اصلاح شده." in page
    with Session(engine) as session:
        draft = store.draft_of(session, TOPIC)
        assert draft is not None and draft.changed == ["fa.answer"]  # nothing else rewritten


def test_publishing_an_invalid_draft_is_refused_with_its_errors(
    editor: Staff, second_editor: Staff, engine: Engine
) -> None:
    version = store_version(engine)
    form = form_of(editor)
    form["related"] = "asylum.procedure no.such.topic"
    assert editor.post(f"{PAGE}/draft", form).status_code == 303
    page = second_editor.get(PAGE).text
    response = second_editor.post(f"{PAGE}/publish", {"base_number": base_number(page)})
    assert response.status_code == 400
    assert "Nothing was saved or published" in response.text
    assert "no.such.topic" in response.text
    assert store_version(engine) == version


def store_version(engine: Engine) -> int:
    with Session(engine) as session:
        return store.state(session).version


def test_with_review_required_the_author_cannot_publish_but_a_second_person_can(
    editor: Staff, second_editor: Staff, engine: Engine, settings: Settings
) -> None:
    settings.kb_review_required = True
    form = form_of(editor)
    form["answer_fa"] = "جواب تازه برای آزمایش.\n"
    editor.post(f"{PAGE}/draft", form)
    page = editor.get(PAGE).text
    assert "A second person reviews and publishes what you wrote." in page
    refused = editor.post(f"{PAGE}/publish", {"base_number": base_number(page)})
    assert refused.status_code == 400
    assert "a second person reviews and publishes what you wrote" in refused.text
    assert published_answer(engine, TOPIC, "fa") != "جواب تازه برای آزمایش.\n"

    page = second_editor.get(PAGE).text
    published = second_editor.post(f"{PAGE}/publish", {"base_number": base_number(page)})
    assert published.status_code == 303
    assert published_answer(engine, TOPIC, "fa") == "جواب تازه برای آزمایش."
    with Session(engine) as session:
        actions = session.exec(select(AuditEntry.action).order_by(col(AuditEntry.id))).all()
        assert actions[-2:] == ["kb_draft", "kb_publish"]


def test_a_form_made_from_an_older_revision_overwrites_nothing(
    editor: Staff, second_editor: Staff, engine: Engine
) -> None:
    stale_form = form_of(editor)
    fresh = form_of(second_editor)
    fresh["answer_nl"] = "Eerst opgeslagen.\n"
    second_editor.post(f"{PAGE}/draft", fresh)
    stale_form["answer_nl"] = "Later, van een oude pagina.\n"
    assert editor.post(f"{PAGE}/draft", stale_form).status_code == 409
    with Session(engine) as session:
        draft = store.draft_of(session, TOPIC)
        assert draft is not None and "Eerst opgeslagen." in draft.content


def test_the_preview_shows_each_channel_with_its_limit_and_options(editor: Staff) -> None:
    page = editor.get(PAGE).text
    section = page[page.index('<section class="kb-lang" lang="fa" dir="rtl"') :]
    section = section[: section.index("</section>")]
    assert 'data-channel="whatsapp"' in section and 'data-channel="telegram"' in section
    assert "of 1600 characters" in section and "of 4096 characters" in section
    assert "1 \u2067بلی\u2069" in section  # WhatsApp: numbered options
    assert "<li>\u2067بلی\u2069</li>" in section  # Telegram: buttons
    assert "پروسه پناهندگی چطور است" in section  # a related topic, offered after "no"
    assert "org_phone" in section  # not configured: that line is left out

    form = form_of(editor)
    form["answer_en"] = "A very long answer. " * 100
    editor.post(f"{PAGE}/draft", form)
    page = editor.get(PAGE).text
    assert "Too long for Whatsapp" in page
    assert "Too long: sent as 2 messages" in page


def test_an_urgent_answer_is_previewed_without_did_this_help(editor: Staff) -> None:
    page = editor.get("/console/knowledge/topics/urgent.self_harm").text
    assert 'data-channel="whatsapp"' in page
    assert "Did this help?" not in page


def test_an_urgent_topic_is_read_only_to_an_editor(editor: Staff, engine: Engine) -> None:
    page = editor.get("/console/knowledge/topics/urgent.self_harm").text
    assert "only an administrator changes it" in page
    assert "Save the draft" not in page
    form = form_of(editor, "/console/knowledge/topics/urgent.self_harm")
    form["answer_en"] = "Weaker."
    form["confirm_urgent"] = "yes"
    refused = editor.post("/console/knowledge/topics/urgent.self_harm/draft", form)
    assert refused.status_code == 403
    with Session(engine) as session:
        assert store.draft_of(session, "urgent.self_harm") is None


def test_an_admin_changes_an_urgent_topic_only_after_confirming(
    admin: Staff, knowledge: None, engine: Engine
) -> None:
    path = "/console/knowledge/topics/urgent.self_harm"
    page = admin.get(path).text
    assert "As an administrator you may change it" in page
    form = form_of(admin, path)
    form["answer_en"] = form["answer_en"] + "\nAlso: you are not alone.\n"
    assert admin.post(f"{path}/draft", form).status_code == 400  # no confirmation
    form["confirm_urgent"] = "yes"
    assert admin.post(f"{path}/draft", form).status_code == 303
    page = admin.get(path).text
    publish = {"base_number": base_number(page), "confirm_urgent": "yes"}
    assert admin.post(f"{path}/publish", publish).status_code == 303
    assert "you are not alone" in published_answer(engine, "urgent.self_harm", "en")
    with Session(engine) as session:
        targets = session.exec(
            select(AuditEntry.target).where(col(AuditEntry.action) == "kb_publish")
        ).all()
        assert "urgent.self_harm" in targets


def test_history_shows_each_revision_its_diff_and_reverts(
    editor: Staff, second_editor: Staff, engine: Engine
) -> None:
    original = published_answer(engine, TOPIC, "nl")
    form = form_of(editor)
    form["answer_nl"] = "Helemaal nieuw.\n"
    form["summary"] = "nl korter"
    editor.post(f"{PAGE}/draft", form)
    page = second_editor.get(PAGE).text
    second_editor.post(f"{PAGE}/publish", {"base_number": base_number(page)})

    history = editor.get(f"{PAGE}/history")
    assert history.status_code == 200
    assert "nl korter" in history.text and "eddie" in history.text
    assert "+      Helemaal nieuw." in history.text  # the diff of the newest against the one before
    response = editor.post(f"{PAGE}/revert", {"number": "1"})
    assert response.headers["location"].endswith("?notice=reverted")
    with Session(engine) as session:
        draft = store.draft_of(session, TOPIC)
        assert draft is not None and draft.summary == "back to #1"
    page = second_editor.get(PAGE).text
    second_editor.post(f"{PAGE}/publish", {"base_number": base_number(page)})
    assert published_answer(engine, TOPIC, "nl") == original


def test_editors_read_the_urgent_rules(editor: Staff) -> None:
    page = editor.get("/console/knowledge/urgent-rules")
    assert page.status_code == 200
    assert 'data-category="suicide"' in page.text
    assert "urgent.domestic_violence" in page.text


def test_an_editor_starts_a_new_topic_that_cannot_be_published_half_written(
    editor: Staff, second_editor: Staff, engine: Engine
) -> None:
    refused = editor.post("/console/knowledge/topics", {"topic_id": "Meals <b>"})
    assert refused.status_code == 400
    assert "a topic id is words joined by dots" in refused.text
    assert "<b>" not in refused.text.split('id="kb-edit"')[0].split("</h1>")[1]

    response = editor.post("/console/knowledge/topics", {"topic_id": "reception.meals"})
    assert (
        response.headers["location"] == "/console/knowledge/topics/reception.meals?notice=created"
    )
    page = editor.get(response.headers["location"]).text
    assert "The new topic is a draft" in page
    version = store_version(engine)
    publish = second_editor.post(
        "/console/knowledge/topics/reception.meals/publish", {"base_number": base_number(page)}
    )
    assert publish.status_code == 400
    assert "reception.meals.fa: empty title" in html.unescape(publish.text)
    assert store_version(engine) == version
    again = editor.post("/console/knowledge/topics", {"topic_id": "reception.meals"})
    assert again.status_code == 400 and "this topic exists already" in again.text
