from __future__ import annotations

import pytest

from bot.nlu.matcher import Matcher
from bot.nlu.urgent import find_urgent

EMERGENCIES = {
    "nl": [
        "mijn vrouw is flauwgevallen en wordt niet meer wakker",
        "er is net iemand neergestoken voor het station",
        "mijn man heeft me geslagen en zegt dat hij me gaat vermoorden",
        "er loopt een jongetje van 6 alleen op straat en het is nacht",
        "ik sta op het dak en ik ga springen",
    ],
    "fr": [
        "ma copine s'est évanouie et ne se réveille pas",
        "quelqu'un vient de se faire poignarder devant la gare",
        "je veux en finir, j'ai pris toutes mes pilules",
        "mon patron garde mon passeport et m'empêche de sortir de la maison",
        "le feu a pris dans la cuisine du centre",
    ],
    "en": [
        "my daughter can't breathe",
        "a man with a knife is trying to get into our room",
        "i want to end my life, i have all the pills ready",
        "my boss keeps my passport and won't let me leave the house",
        "the smuggler threatens my family if i don't pay",
    ],
    "uk": [
        "дружина знепритомніла і не приходить до тями",
        "чоловік мене вдарив і каже що вб'є",
        "мужик с ножом ломится в комнату",
        "dytyna ne dykhaie, shcho robyty",
        "cholovik mene b'ie i pohrozhuie vbyty",
    ],
    "ps": [
        "ښځه مې بې هوښه شوه او نه راویښېږي",
        "غواړم ځان ووژنم، ټولې ګولۍ مې تیارې کړې",
        "مېړه مې اوس وهلې یم او وایي چې وژنم دې",
        "zama khaza be hokha da aw na paseegi",
        "meera me wahi aw wayi chi wazhnam de",
    ],
    "fa": [
        "خانمم بیهوش شده و بیدار نمیشود",
        "شوهرم همین حالا مرا زد و میگوید مرا میکشد",
        "یک پسر کوچک شش ساله تنها در سرک است، شب است",
        "khanumam behosh shuda bedar namesha",
        "shoharam mara lat kad o mega mekoshamet",
    ],
}


@pytest.mark.parametrize(
    ("lang", "text"),
    [(lang, text) for lang, texts in EMERGENCIES.items() for text in texts],
)
def test_an_emergency_is_caught_in_every_language_and_script(
    matcher: Matcher, lang: str, text: str
) -> None:
    found = matcher.match(text)

    assert found.topic == "urgent"
    assert found.urgent
    assert found.score == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "my husband beats me every night, can i move to another reception centre?",
        "ik heb een negatieve beslissing gekregen en mijn man slaat mij",
        "نوی کمپ ته انتقال غواړم ځکه چې مېړه مې وهي",
    ],
)
def test_urgent_wins_over_the_topic_the_message_is_also_about(matcher: Matcher, text: str) -> None:
    assert matcher.match(text).topic == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "where do i apply for asylum in brussels",
        "hoe lang duurt het voor ik een antwoord krijg van het cgvs",
        "je cherche un avocat pro deo pour mon recours",
        "де можна вчити нідерландську безкоштовно",
        "زه غواړم خپله ښځه او ماشومان بلجیم ته راولم",
        "چطور میتوانم کارت نارنجی بگیرم",
        "it is not an emergency, but i would like to talk to a psychologist",
    ],
)
def test_ordinary_questions_are_not_emergencies(matcher: Matcher, text: str) -> None:
    assert find_urgent(text) is None
    assert matcher.match(text).topic != "urgent"
