"""What the knowledge base says, checked the way a careful reviewer would.

- Every phone number, code or amount in an answer is confirmed by one of the topic's
  sources (``numbers:``) or is the organisation's own configured detail; every web
  address is a source's or the organisation's. Nothing is invented.
- The six languages say the same thing: the same numbers, web addresses,
  placeholders and bullets, unless the topic declares the difference.
- Each kind of emergency gets its specialised services, in every language.
- The organisation's details are placeholders: an answer never shows a raw
  ``{org_phone}``; where a detail is not configured, its line is left out.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from bot.config import DEMO_ORGANISATION, LANGUAGES, PROJECT_HOME, Settings
from bot.nlu.knowledge import KnowledgeBase, Topic, load_knowledge
from bot.nlu.organisation import ORGANISATION_FILE, fill, placeholders, read_organisation

KNOWLEDGE = PROJECT_HOME / "knowledge"
EMERGENCY_NUMBERS = str(Settings.model_fields["emergency_numbers"].default)
EASTERN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
NUMBER = re.compile(r"(?<![\w.,/:])\+?\d+(?:[ .\u00a0]\d+)*(?![\w/:])")
MONEY = re.compile(r"€\s*$|^\s*(€|euro|eur\b|یورو|євро)", re.IGNORECASE)
URL = re.compile(
    r"(?:https?://)?(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:be|eu|org|com|net|int|info)\b"
    r"(?:/[^\s)]*)?",
    re.IGNORECASE,
)
BULLET = re.compile(r"^\s*(•|-|\d+[.)])\s", re.MULTILINE)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge(KNOWLEDGE)


def organisation_texts() -> list[str]:
    values = read_organisation(KNOWLEDGE / ORGANISATION_FILE)
    texts: list[str] = []
    for value in values.values():
        texts.extend(value.values() if isinstance(value, dict) else [value])
    return texts


def digits(text: str) -> str:
    return re.sub(r"\D", "", text.translate(EASTERN_DIGITS))


def numbers_in(text: str) -> set[str]:
    """Numbers of three or more digits that a reader could dial or quote: not a year,
    a time (9:00) or an amount in euro."""
    text = text.translate(EASTERN_DIGITS)
    found = set()
    for match in NUMBER.finditer(text):
        number = digits(match.group(0))
        before, after = text[: match.start()], text[match.end() :]
        if len(number) < 3 or re.fullmatch(r"(19|20)\d\d", number):
            continue
        if MONEY.search(before[-3:]) or MONEY.search(after[:6]):
            continue
        found.add(number)
    return found


def domains_in(text: str) -> set[str]:
    found = set()
    for match in URL.finditer(text):
        address = match.group(0)
        if "@" in text[max(0, match.start() - 1) : match.start()]:
            continue  # the domain of an e-mail address: the organisation's placeholder
        host = urlparse(address if "://" in address else f"//{address}").hostname or ""
        found.add(host.removeprefix("www."))
    return found


def declared_numbers(topic: Topic) -> set[str]:
    declared = {digits(str(n)) for source in topic.sources for n in source.get("numbers") or []}
    declared |= {digits(text) for text in organisation_texts()}
    # The emergency numbers the service is configured with (112 by default).
    declared |= {digits(n) for n in EMERGENCY_NUMBERS.split(",")}
    return declared


def source_domains(topic: Topic) -> set[str]:
    urls = [str(source["url"]) for source in topic.sources]
    urls += [text for text in organisation_texts() if text.startswith("http")]
    return {(urlparse(url).hostname or "").removeprefix("www.") for url in urls}


def related_domain(domain: str, known: set[str]) -> bool:
    return any(domain == k or domain.endswith("." + k) or k.endswith("." + domain) for k in known)


def test_every_number_in_an_answer_is_confirmed_by_a_source(kb: KnowledgeBase) -> None:
    unconfirmed = []
    for topic in kb.topics.values():
        declared = declared_numbers(topic)
        for lang, answer in topic.answers.items():
            for number in sorted(numbers_in(answer.answer) - declared):
                unconfirmed.append(f"{topic.id}.{lang}: {number}")
    assert not unconfirmed, "numbers without a source that confirms them:\n" + "\n".join(
        unconfirmed
    )


def test_every_web_address_in_an_answer_is_a_source_or_the_organisation(
    kb: KnowledgeBase,
) -> None:
    unknown = []
    for topic in kb.topics.values():
        known = source_domains(topic)
        for lang, answer in topic.answers.items():
            for domain in sorted(domains_in(answer.answer)):
                if not related_domain(domain, known):
                    unknown.append(f"{topic.id}.{lang}: {domain}")
    assert not unknown, "web addresses that are not among the sources:\n" + "\n".join(unknown)


def test_the_six_languages_say_the_same_numbers_addresses_and_steps(kb: KnowledgeBase) -> None:
    differences = []
    for topic in kb.topics.values():
        declared = set(topic.language_differences)
        reference = topic.answers["en"].answer
        expected = (
            numbers_in(reference),
            domains_in(reference),
            set(placeholders(reference)),
            len(BULLET.findall(reference)),
        )
        for lang in LANGUAGES:
            if lang == "en" or lang in declared or lang not in topic.answers:
                continue
            text = topic.answers[lang].answer
            found = (
                numbers_in(text),
                domains_in(text),
                set(placeholders(text)),
                len(BULLET.findall(text)),
            )
            for what, want, got in zip(
                ("numbers", "web addresses", "placeholders", "bullets"),
                expected,
                found,
                strict=True,
            ):
                if want != got:
                    differences.append(f"{topic.id}.{lang} {what}: en has {want}, {lang} has {got}")
    assert not differences, "\n".join(differences)


# What each kind of emergency must name, in every language, beside 112: the specialised
# service's number or (where it has no single number) its name as written in Belgium.
SPECIALISED = {
    "urgent.self_harm": [["1813"], ["0800 32 123"]],
    "urgent.domestic_violence": [["1712"], ["0800 30 030"]],
    "urgent.child_missing": [["116 000"]],
    "urgent.trafficking": [["Payoke"], ["PAG-ASA"], ["Sürya", "Surya"]],
    "urgent.sexual_violence": [["ZSG", "CPVS"]],
    "urgent.child_alone": [["112"], ["Fedasil"]],
}


@pytest.mark.parametrize("topic_id", sorted(SPECIALISED))
def test_each_kind_of_emergency_names_its_specialised_services_in_every_language(
    kb: KnowledgeBase, topic_id: str
) -> None:
    topic = kb.topics[topic_id]
    assert topic.kind == "urgent"
    for lang in LANGUAGES:
        text = topic.answers[lang].answer
        flat = re.sub(r"\s", "", text)
        assert "112" in text, f"{topic_id}.{lang} does not give 112"
        for alternatives in SPECIALISED[topic_id]:
            assert any(re.sub(r"\s", "", name) in flat for name in alternatives), (
                f"{topic_id}.{lang} does not name {' or '.join(alternatives)}"
            )


def test_suicide_lines_say_which_language_they_speak(kb: KnowledgeBase) -> None:
    """1813 answers in Dutch, 0800 32 123 in French: a French speaker is not sent to a
    Dutch line without being told (defect 1 of the knowledge review)."""
    fr = kb.topics["urgent.self_harm"].answers["fr"].answer
    line_1813 = next(line for line in fr.splitlines() if "1813" in line)
    assert "néerlandais" in line_1813
    line_cps = next(line for line in fr.splitlines() if "0800 32 123" in line)
    assert "français" in line_cps


def test_no_answer_hard_codes_the_organisations_opening_hours(kb: KnowledgeBase) -> None:
    hard_coded = [
        f"{topic.id}.{lang}"
        for topic in kb.topics.values()
        for lang, answer in topic.answers.items()
        if re.search(r"12[:.h]?30", answer.answer)
    ]
    assert not hard_coded, "use {opening_hours}: " + ", ".join(hard_coded)


def test_no_answer_is_sent_with_a_raw_placeholder_configured_or_not(kb: KnowledgeBase) -> None:
    configured = {name: f"<{name}>" for name in DEMO_ORGANISATION} | {"opening_hours": "<hours>"}
    for topic in kb.topics.values():
        for lang, answer in topic.answers.items():
            for values in ({}, {"opening_hours": "<hours>"}, configured):
                sent = fill(answer.answer, values)
                assert "{" not in sent and "}" not in sent, f"{topic.id}.{lang}: {sent!r}"
                assert sent.strip(), f"{topic.id}.{lang} says nothing without {values}"


def test_the_organisations_details_file_names_only_known_details() -> None:
    path = KNOWLEDGE / ORGANISATION_FILE
    assert path.is_file()
    read_organisation(path)  # raises on an unknown detail


def test_a_line_that_needs_a_detail_not_configured_is_left_out() -> None:
    text = "Call us:\n• by phone: {org_phone}\n• by e-mail: {org_email}\nWe answer {opening_hours}."
    sent = fill(text, {"org_email": "help@example.org", "opening_hours": "Mon-Fri 9-12"})
    assert sent == "Call us:\n• by e-mail: help@example.org\nWe answer Mon-Fri 9-12."


def test_the_knowledge_base_validates_and_covers_every_topic_in_every_language() -> None:
    from bot.nlu.knowledge import coverage, validate

    errors, _ = validate(KNOWLEDGE)
    ids, table = coverage(KNOWLEDGE)
    assert not errors
    # "overdue" is a reminder to review, not a gap (and depends on the day the test runs)
    gaps = [
        f"{topic}.{lang}: {state}"
        for topic in ids
        for lang, state in table[topic].items()
        if state not in ("ok", "overdue")
    ]
    assert not gaps, gaps
