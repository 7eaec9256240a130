"""The matcher's outcomes beside "a topic": only staff can answer, at risk, the kind of
an emergency. Sentences written for these tests (never taken from an evaluation set)."""

from __future__ import annotations

import pytest

from bot.nlu.matcher import Matcher

# About one person's own file or a named third person: only staff can answer.
PERSONAL = {
    "nl": [
        "Goedemorgen, kan u eens kijken of mijn zus Amina nog in het centrum van Kapellen"
        " verblijft? Ze neemt haar telefoon niet op.",
        "mijn advocaat heeft een brief gestuurd over mijn dossier, kan u zeggen wat hij"
        " precies geschreven heeft?",
    ],
    "fr": [
        "Bonjour, pouvez-vous regarder dans votre système si mon frère Karim est encore au"
        " centre de Florennes ou s'il a été transféré ?",
        "est-ce que l'ambassade à Kinshasa a déjà accordé le visa à mon fils Patrick ?",
    ],
    "en": [
        "hi, can you check in your system if my uncle Hamid is still in the Red Cross centre"
        " in Jodoigne? nobody answers his phone",
        "what is the name of my lawyer? i lost the paper with his details",
    ],
    "uk": [
        "Доброго дня, чи можете перевірити, чи мій брат Андрій ще живе в центрі в Льєжі,"
        " чи його перевели кудись?",
        "skazhit bud laska, chy posolstvo vzhe dalo vizu moii doni Oleni?",
    ],
    "ps": [
        "سلام، تاسو کولی شئ وګورئ چې زما ورور احمد اوس هم په ګینټ کې په کمپ کې دی که نه؟",
        "salam, zama wakil ma ta yaw lik rakaray, taso wayalay shay che pa ke sa liklee di?",
    ],
    "fa": [
        "سلام، می‌تانید ببینید که برادرم محمود هنوز در کمپ بروکسل است یا او را جای دیگر بردند؟",
        "salam, shoma medanen ke safarat baraye khanumam wiza dada ya ne?",
    ],
}


@pytest.mark.parametrize(
    ("lang", "text"), [(lang, text) for lang, texts in PERSONAL.items() for text in texts]
)
def test_a_question_about_one_persons_file_is_for_staff_not_an_faq(
    matcher: Matcher, lang: str, text: str
) -> None:
    found = matcher.match(text)

    assert found.topic is None
    assert found.staff_only
    assert not found.urgent


# An adult with nowhere to sleep: the reception answer and staff priority, not 112.
SLEEPING_OUTSIDE = {
    "nl": "Ik heb gisteren asiel aangevraagd maar Fedasil had geen plaats, ik heb nergens om"
    " te slapen vannacht",
    "fr": "j'ai fait ma demande d'asile hier mais pas de place d'accueil, je dors dehors ce soir",
    "en": "i applied for asylum last week but they gave me no place, i have nowhere to sleep"
    " tonight",
    "uk": "подав заяву на захист, але місця в центрі не дали, ніде ночувати сьогодні",
    "ps": "ما پناه غوښتې ده خو فداسیل ځای رانکړ، نن شپه د خوب ځای نه لرم",
    "fa": "من درخواست پناهندگی دادم ولی فداسیل جای نداد، امشب جای خواب ندارم",
}


@pytest.mark.parametrize("lang", sorted(SLEEPING_OUTSIDE))
def test_an_adult_with_nowhere_to_sleep_gets_the_reception_answer_marked_at_risk(
    matcher: Matcher, lang: str
) -> None:
    found = matcher.match(SLEEPING_OUTSIDE[lang])

    assert not found.urgent
    assert found.topic is not None and found.topic.startswith("reception.no_place")
    assert found.at_risk == "sleeping_outside"


# Alarming words, but not an emergency: each goes to its topic.
ALARMING_NOT_URGENT = [
    (
        "ik kan niet terug naar mijn land, daar gaan ze mij doden. Wat als het CGVS nee zegt?",
        "asylum",
    ),
    ("au secours, mon mari a été arrêté par la police et il est au centre fermé", "detention"),
    (
        "my son got lost at the border in Bulgaria 3 years ago, can the red cross find him?",
        "family",
    ),
]


@pytest.mark.parametrize(("text", "family"), ALARMING_NOT_URGENT)
def test_fear_of_return_an_arrest_or_a_relative_lost_long_ago_is_not_an_emergency(
    matcher: Matcher, text: str, family: str
) -> None:
    found = matcher.match(text)

    assert not found.urgent
    assert found.topic is not None and found.topic.startswith(family)


# Each kind of emergency, in each language: caught, and its kind known for the answer.
KINDS = {
    "self_harm": {
        "nl": "ik zie het niet meer zitten en wil er vannacht een einde aan maken",
        "fr": "je n'en peux plus, je veux en finir ce soir",
        "en": "i don't want to live anymore, tonight i end it all",
        "uk": "ne khochu bilshe zhyty, sohodni vse zakinchu",
        "ps": "زه نور نه غواړم ژوند وکړم، غواړم ځان ووژنم",
        "fa": "دیگر نمی‌خواهم زنده باشم، می‌خواهم خودم را بکشم",
    },
    "sexual_violence": {
        "nl": "een man in het centrum heeft mij gisteravond verkracht",
        "fr": "j'ai été violée cette nuit par un homme du centre",
        "en": "i was raped last night by a man from the camp",
        "uk": "мене зґвалтували вчора ввечері біля центру",
        "ps": "پرون شپه یو سړي په ما جنسي تېری وکړ",
        "fa": "دیشب یک مرد در کمپ به من تجاوز کرد",
    },
    "domestic_violence": {
        "nl": "mijn man slaat mij elke avond en nu ook de kinderen",
        "fr": "mon mari me frappe tous les soirs",
        "en": "my husband hits me every night and threatens me",
        "uk": "чоловік б'є мене кожного вечора",
        "ps": "مېړه مې هره شپه ما وهي",
        "fa": "شوهرم هر شب مرا لت و کوب می‌کند",
    },
    "trafficking": {
        "nl": "de baas heeft mijn paspoort afgepakt en laat mij werken zonder loon",
        "fr": "on m'oblige à travailler la nuit et on a pris mon passeport",
        "en": "they took my passport and force me to work for no money",
        "uk": "забрали паспорт і змушують працювати без грошей",
        "ps": "پاسپورټ یې زما اخیستی او په زور مې کار راباندې کوي",
        "fa": "پاسپورتم را گرفتند و مرا به زور به کار وادار می‌کنند",
    },
    "child_missing": {
        "nl": "mijn dochtertje van 7 is sinds vanmiddag vermist in het centrum",
        "fr": "mon fils de 10 ans a disparu depuis ce matin",
        "en": "my son is missing since this afternoon, he is 9",
        "uk": "мій син зник сьогодні після школи, йому 8 років",
        "ps": "زما زوی له غرمې راهیسې ورک دی",
        "fa": "پسرم از چاشت گم شده و پیدا نمی‌شود",
    },
    "child_alone": {
        "nl": "er zit een meisje van 12 alleen op straat en het wordt donker",
        "fr": "un petit garçon de 8 ans est tout seul dans la rue ce soir",
        "en": "a 10 year old boy is alone at the station tonight",
        "uk": "дитина 9 років сама на вокзалі вночі",
        "ps": "یو لس کلن هلک یوازې په سړک کې دی، شپه ده",
        "fa": "یک پسر ده ساله تنها در سرک است، شب است",
    },
}


@pytest.mark.parametrize(
    ("kind", "lang"), [(kind, lang) for kind, texts in KINDS.items() for lang in texts]
)
def test_each_kind_of_emergency_is_caught_in_every_language_with_its_kind(
    matcher: Matcher, kind: str, lang: str
) -> None:
    found = matcher.match(KINDS[kind][lang])

    assert found.urgent
    assert found.topic == "urgent"
    assert found.urgent_kind == kind
