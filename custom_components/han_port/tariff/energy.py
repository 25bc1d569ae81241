"""The energy part of the grid rent (energiledd): a base price and time-of-use rules.

Rules are data: months, day types, dates and a wall-clock hour window, first
match wins, otherwise the base price applies. This covers day/night with and
without the weekend and holiday discount, per-company extra low days (BKK's
24 and 31 December), seasonal prices and Griug's old Friday surcharge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from fractions import Fraction
import re

from .clock import local
from .errors import TariffDataError
from .holidays import is_public_holiday
from .timeline import PROVENANCE_KEYS, Provenance, Reader, read_provenance

_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")


class DayType(StrEnum):
    """Day selectors of a rule (fri-nettleie's ``dager``, in English)."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"
    WEEKDAY = "weekday"  # Monday to Friday, holidays included
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # public holiday or the company's extra low day
    OFFDAY = "offday"  # weekend or holiday
    WORKDAY = "workday"  # not an offday
    ALL = "all"


_WEEKDAYS = (
    DayType.MON,
    DayType.TUE,
    DayType.WED,
    DayType.THU,
    DayType.FRI,
    DayType.SAT,
    DayType.SUN,
)


def _day_matches(kind: DayType, day: date, holiday: bool) -> bool:
    weekend = day.weekday() >= 5
    match kind:
        case DayType.ALL:
            return True
        case DayType.WEEKDAY:
            return not weekend
        case DayType.WEEKEND:
            return weekend
        case DayType.HOLIDAY:
            return holiday
        case DayType.OFFDAY:
            return weekend or holiday
        case DayType.WORKDAY:
            return not (weekend or holiday)
        case _:
            return _WEEKDAYS[day.weekday()] is kind


@dataclass(frozen=True, slots=True)
class EnergyRule:
    """A price that applies when every given condition holds."""

    name: str
    band: str
    price: Fraction
    days: frozenset[DayType] = frozenset()
    months: frozenset[int] = frozenset()
    dates: frozenset[tuple[int, int]] = frozenset()
    hours: tuple[int, int] | None = None

    def matches(self, moment: datetime, holiday: bool) -> bool:
        """Say whether the rule applies at a local wall-clock time."""
        day = moment.date()
        if self.months and day.month not in self.months:
            return False
        if self.dates and (day.month, day.day) not in self.dates:
            return False
        if self.days and not any(
            _day_matches(kind, day, holiday) for kind in self.days
        ):
            return False
        if self.hours is None:
            return True
        start, end = self.hours
        if start < end:
            return start <= moment.hour < end
        return moment.hour >= start or moment.hour < end


@dataclass(frozen=True, slots=True)
class EnergyPrice:
    """The energiledd of one interval, NOK/kWh ex VAT and ex taxes."""

    price: Fraction
    band: str
    rule: str | None


@dataclass(frozen=True, slots=True)
class EnergyPart:
    """Base price, ordered rules, extra low days and where the figures come from."""

    base_price: Fraction
    base_band: str
    rules: tuple[EnergyRule, ...]
    extra_offdays: frozenset[tuple[int, int]]
    provenance: Provenance

    def is_holiday(self, day: date) -> bool:
        """Public holiday, or a day this company bills entirely at its low rate."""
        return is_public_holiday(day) or (day.month, day.day) in self.extra_offdays

    def price_at(self, instant: datetime) -> EnergyPrice:
        """Return the price of the interval starting at ``instant`` (wall clock decides)."""
        moment = local(instant)
        holiday = self.is_holiday(moment.date())
        for rule in self.rules:
            if rule.matches(moment, holiday):
                return EnergyPrice(rule.price, rule.band, rule.name)
        return EnergyPrice(self.base_price, self.base_band, None)

    @property
    def bands(self) -> tuple[str, ...]:
        """Return the band names this part can produce, base first."""
        names = [self.base_band]
        names.extend(rule.band for rule in self.rules if rule.band not in names)
        return tuple(names)


# --- reading ---------------------------------------------------------------------

ENERGY_KEYS = ("base", "rules", "extra_offdays", *PROVENANCE_KEYS)
_RULE_KEYS = ("name", "band", "price", "days", "months", "dates", "hours")


def _month_day(where: str, value: object) -> tuple[int, int]:
    match = _MONTH_DAY.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise TariffDataError(f"{where}: expected MM-DD")
    month, day = int(match[1]), int(match[2])
    try:
        date(2024, month, day)  # a leap year accepts 02-29
    except ValueError as err:
        raise TariffDataError(f"{where}: {err}") from err
    return month, day


def _price(reader: Reader) -> Fraction:
    price = reader.number("price")
    if not -1 < price < 5:
        raise TariffDataError(f"{reader.where}.price: {price} NOK/kWh is not plausible")
    return price


def _hours(reader: Reader) -> tuple[int, int] | None:
    """Read ``[start, end)`` in local whole hours; ``[22, 6]`` wraps past midnight."""
    if not reader.has("hours"):
        return None
    window = reader.items("hours")
    numbers = [
        hour for hour in window if isinstance(hour, int) and not isinstance(hour, bool)
    ]
    if len(window) != 2 or len(numbers) != 2:
        raise TariffDataError(
            f"{reader.where}.hours: expected [start, end) in whole hours"
        )
    start, end = numbers
    if not (0 <= start <= 23 and 1 <= end <= 24 and start != end):
        raise TariffDataError(
            f"{reader.where}.hours: {window} is not a window of the day"
        )
    return start, end


def read_rule(reader: Reader) -> EnergyRule:
    """Read one time-of-use rule."""
    days = []
    for index, value in enumerate(reader.items("days", required=False)):
        try:
            days.append(DayType(str(value)))
        except ValueError:
            raise TariffDataError(
                f"{reader.where}.days[{index}]: unknown day type {value!r}"
            ) from None
    months = []
    for index, value in enumerate(reader.items("months", required=False)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= 12
        ):
            raise TariffDataError(f"{reader.where}.months[{index}]: expected 1..12")
        months.append(value)
    dates = [
        _month_day(f"{reader.where}.dates[{index}]", value)
        for index, value in enumerate(reader.items("dates", required=False))
    ]
    return EnergyRule(
        name=reader.text("name"),
        band=reader.text("band"),
        price=_price(reader),
        days=frozenset(days),
        months=frozenset(months),
        dates=frozenset(dates),
        hours=_hours(reader),
    )


def read_energy(reader: Reader) -> EnergyPart:
    """Read an ``energy`` object."""
    base = reader.child("base", ("price", "band"))
    rules = tuple(
        read_rule(Reader(f"{reader.where}.rules[{index}]", raw, _RULE_KEYS))
        for index, raw in enumerate(reader.items("rules", required=False))
    )
    offdays = frozenset(
        _month_day(f"{reader.where}.extra_offdays[{index}]", value)
        for index, value in enumerate(reader.items("extra_offdays", required=False))
    )
    return EnergyPart(
        base_price=_price(base),
        base_band=base.text("band"),
        rules=rules,
        extra_offdays=offdays,
        provenance=read_provenance(reader),
    )
