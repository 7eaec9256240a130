from __future__ import annotations

import pytest

from bot.nlu.language import LanguageIdentifier, dominant_script
from bot.nlu.matcher import Matcher


@pytest.fixture(scope="module")
def languages(matcher: Matcher) -> LanguageIdentifier:
    return matcher.languages


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("kan iemand mij zeggen hoe lang mijn procedure nog duurt", "nl"),
        ("bonjour, je cherche un avocat gratuit pour mon recours", "fr"),
        ("hello, how long does it take before i get an answer", "en"),
        ("скажіть будь ласка де можна вивчати нідерландську мову", "uk"),
        ("подскажите пожалуйста где получить карточку", "uk"),  # Russian counts as uk
        ("زه غواړم چې خپله کورنۍ بلجیم ته راوړم", "ps"),
        ("من میخواهم فامیلم را به بلجیم بیاورم", "fa"),
    ],
)
def test_each_language_in_its_own_script(
    languages: LanguageIdentifier, text: str, lang: str
) -> None:
    assert languages.detect(text).lang == lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("زما وکیل ټیلیفون نه ځوابوي", "ps"),  # ټ and ځ exist only in Pashto
        ("ډېر وخت کېږي چې ځواب نه راځي", "ps"),
        ("زه نه پوهېږم چې څه وکړم", "ps"),
        ("وکیلم تلیفون را جواب نمیدهد", "fa"),
        ("خیلی وقت شده که جواب نیامده", "fa"),
        ("نمیدانم چه کار کنم", "fa"),
    ],
)
def test_pashto_is_told_apart_from_dari(
    languages: LanguageIdentifier, text: str, lang: str
) -> None:
    assert languages.detect(text).lang == lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("dobryi den, skilky chekaty na vidpovid pro prytulok", "uk"),
        ("de meni znaity advokata bezkoshtovno", "uk"),
        ("zama wakil telefon na akhli, sa wokram", "ps"),
        ("za ghwaram chi khpala kornai rawalam", "ps"),
        ("wakilam telefon ra jawab namete, chi konom", "fa"),
        ("man mekhaham famil khod ra ba belgium biyarom", "fa"),
    ],
)
def test_transliterated_ukrainian_pashto_and_dari_are_recognised(
    languages: LanguageIdentifier, text: str, lang: str
) -> None:
    assert languages.detect(text).lang == lang


def test_a_word_in_another_script_decides_over_latin_names() -> None:
    assert dominant_script("Fedasil Brussel Humanitarian Hub де це") == "cyrillic"
    assert dominant_script("OCMW Gent کجاست") == "arabic"
    assert dominant_script("1234 ???") is None


def test_confidence_is_low_for_nothing_to_go_on_and_high_for_a_clear_sentence(
    languages: LanguageIdentifier,
) -> None:
    assert languages.detect("👍 123").confidence == 0.0
    assert languages.detect("waar kan ik gratis Nederlandse les volgen in Gent").confidence > 0.9
