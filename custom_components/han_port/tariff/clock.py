"""Local time for tariff rules: Europe/Oslo wall clock, months and metering intervals.

Instants are timezone-aware and compared in UTC; local time is only used where
a rule needs it (day/night hours, day types, the month a bill belongs to). On
the 23- and 25-hour days the wall-clock hour of an interval's start decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from functools import lru_cache
import re
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
MINUTE = timedelta(minutes=1)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def as_hours(delta: timedelta) -> Fraction:
    """Return a duration in hours, exactly (timedelta division gives a float)."""
    return Fraction(delta // timedelta(microseconds=1), 3_600_000_000)


def utc(instant: datetime) -> datetime:
    """Return an aware instant in UTC; a naive one is refused, not guessed."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(
            f"naive datetime {instant.isoformat()}: a UTC offset is required"
        )
    return instant.astimezone(UTC)


def local(instant: datetime) -> datetime:
    """Return the Europe/Oslo wall-clock time of an aware instant."""
    return utc(instant).astimezone(OSLO)


@lru_cache(maxsize=64)
def local_midnight(day: date) -> datetime:
    """Return the instant (UTC) at which ``day`` starts in Oslo.

    Kept for the last days asked: month and day boundaries are asked for
    every few seconds by the sensors.
    """
    return datetime.combine(day, time(0), tzinfo=OSLO).astimezone(UTC)


def hours_in_day(day: date) -> int:
    """Return 23, 24 or 25: the length of an Oslo day across the DST changes."""
    length = local_midnight(day + timedelta(days=1)) - local_midnight(day)
    return int(length / HOUR)


def floor_interval(instant: datetime, minutes: int) -> datetime:
    """Return the start (UTC) of the metering interval containing ``instant``.

    Oslo's offset is a whole number of hours, so flooring in UTC gives the same
    clock-hour and quarter-hour boundaries as local time.
    """
    moment = utc(instant)
    offset = (moment.minute % minutes) * 60 + moment.second
    return moment.replace(microsecond=0) - timedelta(seconds=offset)


def check_interval_minutes(minutes: int) -> int:
    """Accept the metering intervals the engine supports: 60 now, 15 when metering changes."""
    if minutes not in (15, 60):
        raise ValueError(f"metering interval must be 15 or 60 minutes, not {minutes}")
    return minutes


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A calendar month in Oslo: the period of a bill and of a capacity step."""

    year: int
    month: int

    def __post_init__(self) -> None:
        """Refuse months that do not exist."""
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, not {self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """Read ``YYYY-MM``."""
        match = _MONTH.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"month must look like 2026-02, not {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, instant: datetime) -> Month:
        """Return the Oslo month an instant falls in."""
        moment = local(instant)
        return cls(moment.year, moment.month)

    @property
    def first_day(self) -> date:
        """Return the first day of the month."""
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        """Return the following month."""
        if self.month == 12:
            return Month(self.year + 1, 1)
        return Month(self.year, self.month + 1)

    def minus(self, months: int) -> Month:
        """Return the month ``months`` before this one."""
        index = self.year * 12 + self.month - 1 - months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> datetime:
        """Return the instant (UTC) the month starts."""
        return local_midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """Return the instant (UTC) the next month starts."""
        return self.next().start

    @property
    def hours(self) -> int:
        """Return the number of clock hours in the month (743, 744 or 745 across DST)."""
        return int((self.end - self.start) / HOUR)

    def __contains__(self, instant: object) -> bool:
        """Say whether an aware instant falls in the month."""
        return isinstance(instant, datetime) and self.start <= utc(instant) < self.end

    def __str__(self) -> str:
        """Return ``YYYY-MM``."""
        return f"{self.year:04d}-{self.month:02d}"
