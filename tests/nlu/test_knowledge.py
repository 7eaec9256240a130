from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.nlu.knowledge import (
    KnowledgeError,
    coverage,
    load_knowledge,
    validate,
)
from tests.nlu.helpers import KNOWLEDGE, TODAY, KnowledgeWriter, topic_data


def test_a_complete_knowledge_base_has_no_errors_or_warnings(
    write_knowledge: KnowledgeWriter,
) -> None:
    directory = write_knowledge(
        topic_data("asylum.apply", related=["asylum.dublin"]),
        topic_data("asylum.dublin"),
        shared=("asylum.apply", "asylum.dublin"),
    )

    assert validate(directory, today=TODAY) == ([], [])


def _without_language(lang: str) -> dict[str, Any]:
    data = topic_data("asylum.apply")
    del data["languages"][lang]
    return data


def _with_answer(lang: str, **fields: Any) -> dict[str, Any]:
    data = topic_data("asylum.apply")
    data["languages"][lang].update(fields)
    return data


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (topic_data("asylum.apply", kind="question"), "'kind' must be one of"),
        ({k: v for k, v in topic_data("asylum.apply").items() if k != "owner"}, "'owner'"),
        (topic_data("asylum.apply", reviewed_on="last week"), "'reviewed_on' must be a date"),
        (topic_data("asylum.apply", review_every=0), "'review_every'"),
        (topic_data("asylum.apply", exmaples=["typo in a key"]), "unknown key 'exmaples'"),
        (topic_data("asylum.apply", sources="https://cgrs.be"), "'sources' must be a list"),
        (_without_language("ps"), "asylum.apply: no answer in ps"),
        (_with_answer("fa", answer="  "), "asylum.apply.fa: empty answer"),
        (_with_answer("uk", title=""), "asylum.apply.uk: empty title"),
        (_with_answer("nl", examples=["waar asiel", "asiel aanvragen"]), "2 examples"),
        (_with_answer("en", examples=7), "examples: must be a list of texts"),
        (topic_data("asylum.apply", related=["asylum.nowhere"]), "'asylum.nowhere' does not"),
    ],
    ids=[
        "unknown kind",
        "missing owner",
        "bad date",
        "no review interval",
        "unknown key",
        "sources not a list",
        "missing language",
        "empty answer",
        "empty title",
        "too few examples",
        "examples not a list",
        "dangling related topic",
    ],
)
def test_validation_reports_each_kind_of_error(
    write_knowledge: KnowledgeWriter, topic: dict[str, Any], expected: str
) -> None:
    directory = write_knowledge(topic, shared=("asylum.apply",))

    errors, _ = validate(directory, today=TODAY)

    assert any(expected in error for error in errors), errors


def test_an_example_under_two_topics_is_an_error(write_knowledge: KnowledgeWriter) -> None:
    dublin = topic_data("asylum.dublin")
    dublin["languages"]["fr"]["examples"][3] = "Asylum.Apply question 2 in EN!"
    directory = write_knowledge(topic_data("asylum.apply"), dublin)

    errors, _ = validate(directory, today=TODAY)

    assert any("is also under asylum.apply" in error for error in errors), errors


def test_a_topic_of_the_shared_contract_must_exist(write_knowledge: KnowledgeWriter) -> None:
    directory = write_knowledge(topic_data("asylum.apply"), shared=("asylum.apply", "detention"))

    errors, _ = validate(directory, today=TODAY)

    assert errors == [
        f"detention: missing (required by {directory.parent.parent}/shared/kb/topics.yaml)"
    ]


def test_a_file_named_differently_from_its_id_is_an_error(
    write_knowledge: KnowledgeWriter,
) -> None:
    directory = write_knowledge(topic_data("asylum.apply"))
    (directory / "asylum.apply.yaml").rename(directory / "asylum_apply.yaml")

    errors, _ = validate(directory, today=TODAY)

    assert any("differs from the file name" in error for error in errors)


def test_a_file_that_is_not_yaml_is_an_error(write_knowledge: KnowledgeWriter) -> None:
    directory = write_knowledge(topic_data("asylum.apply"))
    (directory / "detention.yaml").write_text("id: detention\nlanguages: [unclosed\n")

    errors, _ = validate(directory, today=TODAY)

    assert any(error.startswith("detention.yaml: not valid YAML") for error in errors)


def test_an_overdue_review_is_a_warning_not_an_error(write_knowledge: KnowledgeWriter) -> None:
    stale = topic_data("asylum.apply", reviewed_on=dt.date(2025, 1, 1), review_every=90)
    directory = write_knowledge(stale, shared=("asylum.apply",))

    errors, warnings = validate(directory, today=TODAY)

    assert errors == []
    assert warnings == ["asylum.apply: review overdue since 2025-04-01 (reviewed on 2025-01-01)"]


def test_without_the_shared_contract_that_check_is_skipped_with_a_warning(
    write_knowledge: KnowledgeWriter,
) -> None:
    directory = write_knowledge(topic_data("asylum.apply"))

    errors, warnings = validate(directory, today=TODAY)

    assert errors == []
    assert len(warnings) == 1 and "not checking that every shared topic exists" in warnings[0]


def test_loading_refuses_a_broken_file_and_names_the_problem(
    write_knowledge: KnowledgeWriter,
) -> None:
    directory = write_knowledge(topic_data("asylum.apply", kind="question"))

    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(directory)

    assert "asylum.apply.yaml: 'kind' must be one of faq, meta, urgent" in raised.value.errors[0]


def test_an_answer_missing_in_a_language_falls_back_to_english(
    write_knowledge: KnowledgeWriter,
) -> None:
    knowledge = load_knowledge(write_knowledge(_without_language("ps")))

    assert knowledge.answer("asylum.apply", "ps").title == "asylum.apply (en)"
    assert knowledge.answer("asylum.apply", "fr").title == "asylum.apply (fr)"


def test_coverage_shows_missing_overdue_and_thin_content(write_knowledge: KnowledgeWriter) -> None:
    stale = topic_data("asylum.dublin", reviewed_on=dt.date(2024, 1, 1))
    directory = write_knowledge(
        _with_answer("nl", examples=["asiel"]), stale, shared=("asylum.apply", "detention")
    )

    ids, table = coverage(directory, today=TODAY)

    assert ids == ["asylum.apply", "detention", "asylum.dublin"]
    assert table["asylum.apply"]["nl"] == "few examples"
    assert table["asylum.apply"]["ps"] == "ok"
    assert set(table["detention"].values()) == {"missing"}
    assert set(table["asylum.dublin"].values()) == {"overdue"}


def test_the_real_knowledge_base_validates() -> None:
    errors, _ = validate(KNOWLEDGE)

    assert errors == []


def test_kb_validate_exits_non_zero_on_errors(write_knowledge: KnowledgeWriter) -> None:
    broken = write_knowledge(_without_language("uk"))

    result = CliRunner().invoke(app, ["kb", "validate", str(broken)])

    assert result.exit_code == 1
    assert "error: asylum.apply: no answer in uk" in result.output


def test_kb_validate_passes_a_good_directory_and_coverage_prints_the_table(
    write_knowledge: KnowledgeWriter,
) -> None:
    good = write_knowledge(topic_data("asylum.apply"), shared=("asylum.apply",))

    checked = CliRunner().invoke(app, ["kb", "validate", str(good)])
    table = CliRunner().invoke(app, ["kb", "coverage", str(good)])

    assert checked.exit_code == 0, checked.output
    assert table.exit_code == 0
    row = next(line for line in table.output.splitlines() if line.startswith("asylum.apply"))
    assert row.split()[1:] == ["ok"] * 6


def test_files_are_read_as_utf8_whatever_the_locale(write_knowledge: KnowledgeWriter) -> None:
    data = _with_answer("ps", title="پناه غوښتنه")
    directory = write_knowledge(data)

    assert load_knowledge(Path(directory)).answer("asylum.apply", "ps").title == "پناه غوښتنه"
