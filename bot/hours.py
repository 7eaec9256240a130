"""When staff are at work: opening hours, working days and public holidays.

By default the Infolijn answers on working days from 9:00 to 12:30, Brussels time,
and not on Belgian public holidays. Several ranges can be given
(``HELPLINE_OPENING_HOURS="09:00-12:30,13:30-16:00"``).
"""

from __future__ import annotations

from collections.abc import Container
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from babel import Locale
from babel.dates import get_day_names

from bot.config import Settings

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 400  # a year plus any run of holidays


def parse_ranges(spec: str) -> tuple[tuple[time, time], ...]:
    """``"09:00-12:30,13:30-16:00"`` -> ((09:00, 12:30), (13:30, 16:00))."""
    ranges = []
    for part in spec.split(","):
        if not part.strip():
            continue
        try:
            start_text, end_text = part.split("-")
            start, end = (
                time.fromisoformat(start_text.strip()),
                time.fromisoformat(end_text.strip()),
            )
        except ValueError as exc:
            raise ValueError(f"opening hours must look like 09:00-12:30, not {part!r}") from exc
        if start >= end:
            raise ValueError(f"opening hours end before they start: {part!r}")
        ranges.append((start, end))
    if not ranges:
        raise ValueError("no opening hours configured")
    return tuple(sorted(ranges))


def parse_days(spec: str) -> frozenset[int]:
    """``"mon,tue,wed"`` -> {0, 1, 2} (Monday is 0)."""
    days = set()
    for name in spec.split(","):
        name = name.strip().lower()[:3]
        if not name:
            continue
        if name not in DAY_NAMES:
            raise ValueError(f"unknown opening day {name!r}; use {','.join(DAY_NAMES)}")
        days.add(DAY_NAMES.index(name))
    if not days:
        raise ValueError("no opening days configured")
    return frozenset(days)


class OpeningHours:
    def __init__(
        self,
        ranges: tuple[tuple[time, time], ...],
        days: frozenset[int],
        timezone: ZoneInfo,
        closed_dates: Container[date] = (),
    ) -> None:
        self.ranges = ranges
        self.days = days
        self.timezone = timezone
        self.closed_dates = closed_dates

    @classmethod
    def from_settings(cls, settings: Settings) -> OpeningHours:
        closed: Container[date] = ()
        if settings.holidays_country:
            closed = holidays.country_holidays(settings.holidays_country)
        return cls(
            parse_ranges(settings.opening_hours),
            parse_days(settings.opening_days),
            ZoneInfo(settings.timezone),
            closed,
        )

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.closed_dates

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.timezone)
        if not self.is_working_day(local.date()):
            return False
        now = local.time()
        return any(start <= now < end for start, end in self.ranges)

    def next_opening(self, at: datetime) -> datetime:
        """The first moment at or after ``at`` when staff are at work (aware UTC)."""
        if self.is_open(at):
            return at.astimezone(UTC)
        local = at.astimezone(self.timezone)
        for offset in range(SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            if not self.is_working_day(day):
                continue
            for start, _ in self.ranges:
                opening = datetime.combine(day, start, tzinfo=self.timezone)
                if opening > local:
                    return opening.astimezone(UTC)
        raise ValueError("the opening hours never open")

    def describe(self, locale: Locale) -> str:
        """The working days and hours in one language, e.g. "maandag–vrijdag 09:00–12:30"."""
        names = get_day_names("wide", locale=locale)
        days = sorted(self.days)
        runs: list[list[int]] = []
        for day in days:
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        spans = [
            names[run[0]] if len(run) == 1 else f"{names[run[0]]}–{names[run[-1]]}" for run in runs
        ]
        times = ", ".join(f"{start:%H:%M}–{end:%H:%M}" for start, end in self.ranges)
        return f"{', '.join(spans)} {times}"
