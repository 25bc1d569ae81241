"""Time-of-use rules of the energy part: day/night, weekends, holidays, extra low days, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from custom_components.han_port.tariff import (
    DayType,
    EnergyRule,
    Installation,
    Month,
    Reading,
    Supply,
    compute_bill,
    is_public_holiday,
    load_grid_company,
    price_at,
)

from .helpers import flat_spot, oslo

BKK = load_grid_company("bkk")
GLITRE = load_grid_company("glitre")


def energy(company_id: str, moment: datetime) -> tuple[Fraction, str]:
    """Return the energiledd (ex VAT, ex taxes) and band at a wall-clock time."""
    company = load_grid_company(company_id)
    price = company.tariff_at(moment.date()).energy.price_at(moment)
    return price.price, price.band


@pytest.mark.parametrize(
    ("moment", "band"),
    [
        (oslo(2024, 5, 16, 12), "day"),  # Thursday
        (oslo(2024, 5, 17, 12), "night"),  # 17 May, a Friday
        (oslo(2026, 4, 6, 12), "night"),  # Easter Monday
        (oslo(2026, 4, 2, 12), "night"),  # Maundy Thursday
        (oslo(2026, 5, 14, 12), "night"),  # Ascension Day
        (oslo(2026, 2, 7, 12), "night"),  # Saturday
        (oslo(2026, 2, 9, 5), "night"),  # Monday 05:00
        (oslo(2026, 2, 9, 6), "day"),  # Monday 06:00
        (oslo(2026, 2, 9, 21), "day"),
        (oslo(2026, 2, 9, 22), "night"),
        (oslo(2025, 12, 24, 12), "night"),  # BKK's extra low day (a Wednesday)
        (oslo(2025, 12, 31, 12), "night"),
        (oslo(2025, 12, 23, 12), "day"),
        (oslo(2024, 12, 24, 12), "day"),  # not invoice-verified before Oct 2025
    ],
)
def test_bkk_weekend_and_holiday_night_rate(moment: datetime, band: str) -> None:
    """BKK gives the night rate at weekends, on public holidays and on 24/31 December."""
    assert energy("bkk", moment)[1] == band


def test_holiday_priced_at_night_rate_incl_vat() -> None:
    """17 May 2024 at noon costs BKK's night rate; the next working day costs the day rate."""
    installation = Installation(BKK, supply=Supply.fixed("0.5"))
    holiday = price_at(installation, oslo(2024, 5, 17, 12))
    workday = price_at(installation, oslo(2024, 5, 21, 12))  # Whit Monday was the 20th
    assert holiday.grid_energy == Fraction("0.19776") * Fraction("1.25")
    assert workday.grid_energy == Fraction("0.2996") * Fraction("1.25")
    assert holiday.band == "night"
    assert holiday.elavgift == Fraction("0.1644") * Fraction("1.25")
    easter_monday = price_at(installation, oslo(2026, 4, 6, 12))
    assert easter_monday.grid_energy == Fraction("0.105") * Fraction("1.25")


def test_no_weekend_discount() -> None:
    """Glitre, Tensio: the time of day alone decides, holidays included."""
    assert energy("glitre", oslo(2026, 4, 6, 12)) == (Fraction("0.246"), "day")
    assert energy("glitre", oslo(2026, 2, 7, 12)) == (Fraction("0.246"), "day")
    assert energy("glitre", oslo(2026, 2, 7, 23)) == (Fraction("0.126"), "night")
    assert energy("tensio_ts", oslo(2026, 5, 17, 12)) == (Fraction("0.20702"), "day")


def test_flat_and_surcharge() -> None:
    """Lede is flat; Griug charged a Friday-afternoon surcharge in January-March 2025 only."""
    assert energy("lede", oslo(2026, 5, 2, 3)) == (Fraction("0.1141"), "flat")
    assert energy("griug", oslo(2025, 3, 7, 17)) == (
        Fraction("0.2752"),
        "peak",
    )  # Friday
    assert energy("griug", oslo(2025, 3, 7, 15)) == (Fraction("0.1232"), "flat")
    assert energy("griug", oslo(2025, 3, 6, 17)) == (
        Fraction("0.1232"),
        "flat",
    )  # Thursday
    assert energy("griug", oslo(2025, 4, 4, 17)) == (
        Fraction("0.1232"),
        "flat",
    )  # abolished


def _day_bill(company_id: str, day: datetime, minutes: int = 60) -> dict[str, Fraction]:
    """Bill one wall-clock day at 1 kWh per hour and return the kWh per band."""
    end = day + timedelta(days=1)  # wall-clock arithmetic: the next local midnight
    readings = []
    moment = day.astimezone(UTC)
    while moment < end:
        readings.append(Reading.of(moment, Fraction(minutes, 60), minutes))
        moment += timedelta(minutes=minutes)
    installation = Installation(
        load_grid_company(company_id), supply=Supply.fixed("0.5")
    )
    bill = compute_bill(installation, Month.of(day), readings)
    assert len(bill.hours) == sum(
        1 for reading in readings if reading.start.minute == 0
    )
    return dict(bill.kwh_by_band)


@pytest.mark.parametrize("minutes", [60, 15])
def test_dst_days(minutes: int) -> None:
    """The 23-hour day loses a night hour, the 25-hour day has two 02:00 hours, both night."""
    spring = _day_bill("glitre", oslo(2026, 3, 29), minutes)
    autumn = _day_bill("glitre", oslo(2026, 10, 25), minutes)
    assert spring == {"night": 7, "day": 16}
    assert autumn == {"night": 9, "day": 16}


def test_dst_months() -> None:
    """A whole March and October are billed hour by hour: 743 and 745 hours."""
    for month, hours in ((Month(2026, 3), 743), (Month(2026, 10), 745)):
        starts = [month.start + timedelta(hours=index) for index in range(month.hours)]
        readings = [Reading.of(start, 1) for start in starts]
        bill = compute_bill(
            Installation(GLITRE), month, readings, flat_spot(starts, "0.8")
        )
        assert len(bill.hours) == hours
        assert bill.kwh == hours
        assert bill.supply_energy == hours * Fraction("0.8") * Fraction("1.25")


@pytest.mark.parametrize(
    ("kind", "matches"),
    [
        (DayType.ALL, {"sat", "mon", "holiday"}),
        (DayType.WEEKDAY, {"mon", "holiday"}),
        (DayType.WEEKEND, {"sat"}),
        (DayType.HOLIDAY, {"holiday"}),
        (DayType.OFFDAY, {"sat", "holiday"}),
        (DayType.WORKDAY, {"mon"}),
        (DayType.SAT, {"sat"}),
        (DayType.MON, {"mon", "holiday"}),
    ],
)
def test_day_types(kind: DayType, matches: set[str]) -> None:
    """Each day selector on a Saturday, an ordinary Monday and a holiday Monday (Easter Monday)."""
    rule = EnergyRule("r", "day", Fraction(1), days=frozenset({kind}))
    days = {
        "sat": oslo(2026, 4, 4, 12),
        "mon": oslo(2026, 4, 13, 12),
        "holiday": oslo(2026, 4, 6, 12),
    }
    found = {
        name
        for name, moment in days.items()
        if rule.matches(moment, is_public_holiday(moment.date()))
    }
    assert found == matches


def test_rule_conditions() -> None:
    """Months, dates and a night window that wraps past midnight."""
    night = EnergyRule(
        "night", "night", Fraction(1), hours=(22, 6), months=frozenset({1, 2})
    )
    assert night.matches(oslo(2026, 1, 5, 23), False)
    assert night.matches(oslo(2026, 1, 5, 5), False)
    assert not night.matches(oslo(2026, 1, 5, 6), False)
    assert not night.matches(oslo(2026, 3, 5, 23), False)
    christmas = EnergyRule("eve", "night", Fraction(1), dates=frozenset({(12, 24)}))
    assert christmas.matches(oslo(2026, 12, 24, 12), False)
    assert not christmas.matches(oslo(2026, 12, 23, 12), False)
    assert BKK.tariff_at(oslo(2026, 1, 1).date()).energy.bands == ("night", "day")
