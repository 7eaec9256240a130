from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.hours import OpeningHours


def brussels_hours(**overrides: str) -> OpeningHours:
    return OpeningHours.from_settings(Settings(env="test", **overrides))  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_staff_work_on_weekday_mornings_brussels_time() -> None:
    hours = brussels_hours()
    # Tuesday 3 March 2026: Brussels is UTC+1 in winter.
    assert hours.is_open(utc(2026, 3, 3, 8, 0))  # 9:00 local
    assert hours.is_open(utc(2026, 3, 3, 11, 29))  # 12:29 local
    assert not hours.is_open(utc(2026, 3, 3, 11, 30))  # 12:30 local
    assert not hours.is_open(utc(2026, 3, 3, 7, 59))  # 8:59 local


def test_summer_time_shifts_the_opening_in_utc() -> None:
    hours = brussels_hours()
    # Tuesday 7 July 2026: UTC+2.
    assert hours.is_open(utc(2026, 7, 7, 7, 0))
    assert not hours.is_open(utc(2026, 7, 7, 10, 30))


def test_weekends_are_closed_and_the_next_opening_is_monday_morning() -> None:
    hours = brussels_hours()
    saturday = utc(2026, 3, 7, 10, 0)
    assert not hours.is_open(saturday)
    assert hours.next_opening(saturday) == utc(2026, 3, 9, 8, 0)


def test_belgian_public_holidays_are_closed() -> None:
    hours = brussels_hours()
    # Easter Monday 6 April 2026, then Labour Day (Friday 1 May 2026).
    assert not hours.is_open(utc(2026, 4, 6, 8, 0))
    assert hours.next_opening(utc(2026, 4, 6, 8, 0)) == utc(2026, 4, 7, 7, 0)
    assert not hours.is_open(utc(2026, 5, 1, 8, 0))
    # Christmas on a Friday: back on Monday 28 December.
    assert hours.next_opening(utc(2026, 12, 24, 12, 0)) == utc(2026, 12, 28, 8, 0)


def test_next_opening_after_closing_time_is_the_next_working_morning() -> None:
    hours = brussels_hours()
    assert hours.next_opening(utc(2026, 3, 3, 15, 0)) == utc(2026, 3, 4, 8, 0)
    assert hours.next_opening(utc(2026, 3, 3, 6, 0)) == utc(2026, 3, 3, 8, 0)


def test_next_opening_while_open_is_now() -> None:
    hours = brussels_hours()
    now = utc(2026, 3, 3, 9, 0)
    assert hours.next_opening(now) == now


def test_hours_days_and_holidays_are_configurable() -> None:
    hours = brussels_hours(
        opening_hours="09:00-12:30,13:30-16:00", opening_days="sat", holidays_country=""
    )
    saturday = utc(2026, 3, 7, 13, 0)  # 14:00 local
    assert hours.is_open(saturday)
    assert not hours.is_open(utc(2026, 3, 7, 12, 0))  # lunch break
    assert hours.next_opening(utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 7, 12, 30)
    assert not hours.is_open(utc(2026, 3, 3, 9, 0))  # a Tuesday


@pytest.mark.parametrize("spec", ["9-12", "12:30-09:00", "", "noon-night"])
def test_nonsense_opening_hours_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        brussels_hours(opening_hours=spec)


def test_unknown_opening_day_is_refused() -> None:
    with pytest.raises(ValueError):
        brussels_hours(opening_days="mon,funday")


def test_the_hours_are_described_in_the_persons_language() -> None:
    from babel import Locale

    assert brussels_hours().describe(Locale.parse("nl")) == "maandag–vrijdag 09:00–12:30"
    split = brussels_hours(opening_days="mon,tue,thu", opening_hours="09:00-12:30,13:30-16:00")
    assert split.describe(Locale.parse("en")) == "Monday–Tuesday, Thursday 09:00–12:30, 13:30–16:00"
    assert brussels_hours().describe(Locale.parse("fa_AF")) == "دوشنبه–جمعه 09:00–12:30"
