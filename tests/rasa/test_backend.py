"""``HELPLINE_NLU=rasa``: Rasa picks the topic, helpline keeps urgent, language and
abstention, and the built-in matcher answers whenever Rasa fails.

Rasa is a fake server on 127.0.0.1 answering with captured ``/model/parse`` bodies
(``tests/fixtures/rasa/``: real Rasa 3.6.21 answers; ``shapes/``: hand-made answers in
Rasa's shape for what the real ones did not show); the built-in matcher and the knowledge
base are the real ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import REGISTRY

from bot.config import PROJECT_HOME, Settings
from bot.nlu import get_matcher
from bot.nlu.matcher import Matcher
from bot.nlu.rasa import RasaClient, RasaMatcher, _cached_rasa_matcher
from bot.ops.observability import JsonFormatter
from tests.rasa.fake_rasa import CAPTURES, SHAPES, FakeRasa, load_captures
from tests.support.fakes.server import Fault
from tests.support.live_server import free_port

TIMEOUT = 0.3  # the fake hangs far longer than this; no test measures time
SUICIDAL = "ik wil niet meer leven, vannacht maak ik er een einde aan"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def asked(fake: FakeRasa) -> int:
    """How many times helpline asked Rasa (answered or not)."""
    return sum(request.path == "/model/parse" for request in fake.requests)


def fallbacks() -> float:
    return REGISTRY.get_sample_value("helpline_nlu_fallbacks_total", {"backend": "rasa"}) or 0.0


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(env="test", home=PROJECT_HOME, secret_key="test-secret-key")


@pytest.fixture(scope="module")
def builtin(settings: Settings) -> Matcher:
    return get_matcher(settings)


def serve(fake: FakeRasa) -> Iterator[FakeRasa]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.unexpected, f"no capture for {fake.unexpected}"


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    yield from serve(FakeRasa())


@pytest.fixture
def shaped_rasa() -> Iterator[FakeRasa]:
    yield from serve(FakeRasa(load_captures(SHAPES)))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rasa_at(builtin: Matcher, clock: Clock) -> Iterator[Callable[[str], RasaMatcher]]:
    """The Rasa backend for a Rasa server at a URL; its HTTP client is closed after."""
    made: list[RasaMatcher] = []

    def make(url: str) -> RasaMatcher:
        client = RasaClient(url, timeout=TIMEOUT)
        made.append(RasaMatcher(builtin.knowledge, builtin, client, clock=clock))
        return made[-1]

    yield make
    for matcher in made:
        matcher.client.close()


@pytest.fixture
def matcher(fake_rasa: FakeRasa, rasa_at: Callable[[str], RasaMatcher]) -> RasaMatcher:
    return rasa_at(fake_rasa.url)


@pytest.fixture
def shaped(shaped_rasa: FakeRasa, rasa_at: Callable[[str], RasaMatcher]) -> RasaMatcher:
    return rasa_at(shaped_rasa.url)


@pytest.fixture
def nobody_listening() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Waar kan ik asiel aanvragen in Brussel?", "asylum.apply"),
        ("Mon mari est resté au Congo, comment le faire venir ici ?", "family.reunification"),
        ("De ya mozhu otrymaty tymchasovyi zakhyst v Belgii?", "ukraine.temporary_protection"),
        ("چطور می‌توانم در بلژیک کار کنم؟", "work.permission"),
        ("زه غواړم له وکیل سره خبرې وکړم", "asylum.lawyer"),
        ("Hallo, goeiemiddag!", "meta.greeting"),
    ],
)
def test_rasa_intent_answers_with_its_topic_in_our_detected_language(
    matcher: RasaMatcher, builtin: Matcher, fake_rasa: FakeRasa, text: str, topic: str
) -> None:
    before = fallbacks()
    found = matcher.match(text)
    ours = builtin.match(text)
    assert found.topic == topic
    assert not found.urgent
    assert found.score == round(confidence_captured_for(fake_rasa.parsed[-1]), 4)
    assert (found.lang, found.detected_lang) == (ours.detected_lang, ours.detected_lang)
    assert found.lang_confidence == ours.lang_confidence
    assert asked(fake_rasa) == 1
    assert fallbacks() == before


def test_chosen_language_wins_over_detection(matcher: RasaMatcher) -> None:
    found = matcher.match("Waar kan ik asiel aanvragen in Brussel?", lang="fr")
    assert (found.topic, found.lang, found.detected_lang) == ("asylum.apply", "fr", "nl")


def test_urgent_message_is_answered_without_asking_rasa(
    matcher: RasaMatcher, fake_rasa: FakeRasa
) -> None:
    found = matcher.match(SUICIDAL)
    assert (found.topic, found.urgent) == ("urgent", True)
    assert asked(fake_rasa) == 0


def test_urgent_message_is_caught_while_rasa_is_down(
    rasa_at: Callable[[str], RasaMatcher], nobody_listening: str
) -> None:
    matcher = rasa_at(nobody_listening)
    before = fallbacks()
    found = matcher.match(SUICIDAL, lang="nl")
    assert (found.topic, found.urgent, found.lang) == ("urgent", True, "nl")
    assert fallbacks() == before  # Rasa was not even asked


def test_emergency_our_rules_miss_is_urgent_when_rasa_says_so(matcher: RasaMatcher) -> None:
    found = matcher.match("Er ligt iemand op de grond en hij beweegt niet meer!")
    assert (found.topic, found.urgent) == ("urgent", True)


def confidence_captured_for(text: str) -> float:
    [confidence] = [
        capture["intent"]["confidence"]
        for capture in load_captures(CAPTURES).values()
        if capture["text"] == text
    ]
    return float(confidence)


def test_fallback_intent_abstains_and_offers_the_closest_faq_topics(
    shaped: RasaMatcher,
) -> None:
    found = shaped.match("weet iemand een goeie kapper in borgerhout?")
    assert found.topic is None
    assert found.score == pytest.approx(0.2313, abs=1e-4)  # the best guess, not the threshold
    assert not found.urgent
    # Rasa's ranking, without nlu_fallback and the greeting (not an faq topic).
    assert found.candidates == ("help.volunteer", "housing.find", "infolijn.contact")


def test_confidence_under_our_threshold_abstains(shaped: RasaMatcher) -> None:
    found = shaped.match("kan ik hier ergens een fiets huren")
    assert found.topic is None
    assert found.score == pytest.approx(0.4189, abs=1e-4)
    assert found.candidates[0] == "housing.find"


def test_intent_that_is_no_topic_abstains(shaped: RasaMatcher) -> None:
    found = shaped.match("Is er nog plaats in de sociale woning van het OCMW?")
    assert found.topic is None
    assert found.candidates == ("housing.find", "social.income", "reception.no_place")


def test_real_rasa_sure_of_a_wrong_intent_is_followed(
    matcher: RasaMatcher, builtin: Matcher
) -> None:
    """What a real Rasa 3.6.21 answered to an off-topic question (a hairdresser): a
    confident asylum-interview intent, which the Rasa backend cannot tell from a right
    one; the built-in matcher abstains on it (bench/README.md compares the two)."""
    found = matcher.match("weet iemand een goeie kapper in borgerhout?")
    assert found.topic == "asylum.interview"
    assert found.score == pytest.approx(0.8911, abs=1e-4)
    assert builtin.match("weet iemand een goeie kapper in borgerhout?").topic is None


GARBAGE = [
    "<html><body>502 Bad Gateway</body></html>",
    "[]",
    json.dumps({"text": "x"}),
    json.dumps({"intent": "asylum_apply"}),
    json.dumps({"intent": {"name": "asylum_apply", "confidence": 7}}),
    json.dumps({"intent": {"name": "asylum_apply", "confidence": "high"}}),
    json.dumps({"intent": {"name": 42, "confidence": 0.9}}),
    json.dumps({"intent": {"name": "asylum_apply", "confidence": 0.9}, "intent_ranking": {}}),
]


@pytest.mark.parametrize(
    "failure",
    [
        Fault.error(500),
        Fault.error(503),
        Fault.hang(),
        Fault.close(),
        *GARBAGE,
    ],
    ids=["500", "503", "timeout", "closed", *(f"garbage{i}" for i in range(len(GARBAGE)))],
)
def test_built_in_matcher_answers_when_rasa_fails_and_the_failure_is_counted(
    matcher: RasaMatcher,
    builtin: Matcher,
    fake_rasa: FakeRasa,
    caplog: pytest.LogCaptureFixture,
    failure: Fault | str,
) -> None:
    text = "Waar kan ik asiel aanvragen in Brussel?"
    if isinstance(failure, Fault):
        fake_rasa.fail_next(failure)
    else:
        fake_rasa.garbage_next(failure)
    before = fallbacks()
    with caplog.at_level(logging.WARNING, logger="bot.nlu.rasa"):
        found = matcher.match(text)
    assert found == builtin.match(text)
    assert fallbacks() == before + 1
    logged = [JsonFormatter().format(record) for record in caplog.records]
    assert any(json.loads(line).get("event") == "nlu_fallback" for line in logged)
    assert all("asiel" not in line.lower() for line in logged)


def test_built_in_matcher_answers_when_rasa_is_unreachable(
    rasa_at: Callable[[str], RasaMatcher], builtin: Matcher, nobody_listening: str
) -> None:
    matcher = rasa_at(nobody_listening)
    before = fallbacks()
    text = "Mon mari est resté au Congo, comment le faire venir ici ?"
    assert matcher.match(text) == builtin.match(text)
    assert fallbacks() == before + 1


def test_after_a_failure_rasa_is_left_alone_for_a_while(
    matcher: RasaMatcher, builtin: Matcher, fake_rasa: FakeRasa, clock: Clock
) -> None:
    text = "Waar kan ik asiel aanvragen in Brussel?"
    fake_rasa.fail_next(Fault.error(500))
    before = fallbacks()
    matcher.match(text)
    clock.now += matcher.retry_after - 1
    assert matcher.match(text) == builtin.match(text)
    assert asked(fake_rasa) == 1  # the second message did not wait for Rasa
    assert fallbacks() == before + 2
    clock.now += 2
    assert matcher.match(text).topic == "asylum.apply"
    assert asked(fake_rasa) == 2


def test_rasa_url_keeps_its_token_and_path_prefix(fake_rasa: FakeRasa) -> None:
    client = RasaClient(f"{fake_rasa.url}/?token=s3cret")
    client.parse("hallo goeiemiddag")
    client.close()
    request = fake_rasa.requests[-1]
    assert (request.path, request.params["token"]) == ("/model/parse", "s3cret")
    assert RasaClient("http://rasa.internal/nlu/").url.path == "/nlu/model/parse"


def test_get_matcher_asks_rasa_only_when_configured(
    settings: Settings, fake_rasa: FakeRasa
) -> None:
    assert not isinstance(get_matcher(settings), RasaMatcher)
    configured = settings.model_copy(update={"nlu": "rasa", "rasa_url": fake_rasa.url})
    matcher = get_matcher(configured)
    try:
        assert isinstance(matcher, RasaMatcher)
        assert get_matcher(configured) is matcher  # one HTTP client, one failure memory
        assert matcher.match("Hallo, goeiemiddag!").topic == "meta.greeting"
        assert fake_rasa.parsed == ["hallo goeiemiddag"]
    finally:
        matcher.client.close()
        _cached_rasa_matcher.cache_clear()
