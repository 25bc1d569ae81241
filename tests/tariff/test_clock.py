"""Calendar facts the tariffs hang on: Easter, public holidays, DST days, months, rounding."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from custom_components.han_port.tariff import (
    Month,
    easter_sunday,
    exact,
    hours_in_day,
    is_public_holiday,
    public_holidays,
    to_ore,
)
from custom_components.han_port.tariff.clock import as_hours, floor_interval, utc
from custom_components.han_port.tariff.exact import rounded

from .helpers import oslo


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (1943, date(1943, 4, 25)),  # the latest possible date
        (2000, date(2000, 4, 23)),
        (2008, date(2008, 3, 23)),
        (2011, date(2011, 4, 24)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2028, date(2028, 4, 16)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),  # the earliest possible date
    ],
)
def test_easter_sunday(year: int, easter: date) -> None:
    """The computus gives the published Gregorian Easter dates."""
    assert easter_sunday(year) == easter


def test_public_holidays_2026() -> None:
    """All twelve Norwegian public holidays of 2026, movable ones from Easter."""
    assert sorted(public_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 4, 2),  # Maundy Thursday
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 5),  # Easter Sunday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 5, 14),  # Ascension Day
        date(2026, 5, 17),
        date(2026, 5, 24),  # Whit Sunday
        date(2026, 5, 25),  # Whit Monday
        date(2026, 12, 25),
        date(2026, 12, 26),
    ]
    assert is_public_holiday(date(2024, 5, 17))
    assert not is_public_holiday(date(2026, 12, 24))  # only BKK treats it as a low day


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2026, 3, 29), 23),
        (date(2026, 10, 25), 25),
        (date(2026, 2, 10), 24),
        (date(2025, 3, 30), 23),
    ],
)
def test_hours_in_day(day: date, hours: int) -> None:
    """Oslo has 23- and 25-hour days at the DST changes."""
    assert hours_in_day(day) == hours


def test_month() -> None:
    """Months know their UTC bounds, length across DST and arithmetic."""
    march = Month.parse("2026-03")
    assert march.start == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert march.hours == 743
    assert Month(2026, 10).hours == 745
    assert Month(2026, 2).hours == 672
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month(2026, 2).minus(11) == Month(2025, 3)
    assert Month(2026, 1).minus(1) == Month(2025, 12)
    assert str(Month(2026, 2)) == "2026-02"
    assert Month.of(datetime(2026, 1, 31, 23, 30, tzinfo=UTC)) == Month(2026, 2)
    assert oslo(2026, 3, 1) in march
    assert "2026-03-01" not in march
    with pytest.raises(ValueError):
        Month(2026, 13)
    with pytest.raises(ValueError):
        Month.parse("2026-2")


def test_time_helpers() -> None:
    """Naive times are refused; intervals floor in UTC; durations are exact."""
    with pytest.raises(ValueError):
        utc(datetime(2026, 1, 1))
    assert floor_interval(oslo(2026, 3, 29, 3, 44, 59), 15) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )
    assert floor_interval(oslo(2026, 3, 29, 3, 44, 59), 60) == datetime(
        2026, 3, 29, 1, tzinfo=UTC
    )
    assert as_hours(timedelta(minutes=20)) == Fraction(1, 3)


def test_exact_numbers() -> None:
    """Inputs become exact Fractions; floats through their decimal text; output rounds half up."""
    assert exact(5.9) == Fraction(59, 10)
    assert exact("0.2877") == Fraction(2877, 10000)
    assert exact(Decimal("1.25")) == Fraction(5, 4)
    assert exact(3) == 3
    for bad in ("abc", "NaN", Decimal("Infinity")):
        with pytest.raises(ValueError):
            exact(bad)
    with pytest.raises(TypeError):
        exact(True)
    assert to_ore(Fraction("1008.862075")) == Decimal("1008.86")
    assert to_ore(Fraction("0.005")) == Decimal("0.01")
    assert to_ore(Fraction("-0.005")) == Decimal("-0.01")
    assert to_ore(Fraction(1, 3)) == Decimal("0.33")
    assert rounded(Fraction(17118, 3000), 3) == Decimal("5.706")
