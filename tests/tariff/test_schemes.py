"""Strømstøtte and Norgespris, hour by hour, with the monthly cap and 15-minute prices."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from custom_components.han_port.tariff import (
    Dwelling,
    Installation,
    MissingPriceError,
    Month,
    Reading,
    Scheme,
    SpotPrices,
    Supply,
    TariffDataError,
    TaxZone,
    compute_bill,
    load_grid_company,
    price_at,
)

from .helpers import flat_spot, month_hours, oslo

JAN = Month(2026, 1)
BKK = load_grid_company("bkk")
HOURS = month_hours(JAN)


def installation(
    scheme: Scheme,
    zone: TaxZone = TaxZone.STANDARD,
    dwelling: Dwelling = Dwelling.HOUSEHOLD,
) -> Installation:
    """BKK with a plain spot contract."""
    return Installation(
        BKK, zone=zone, scheme=scheme, supply=Supply.spot(), dwelling=dwelling
    )


def seven_kwh_every_hour() -> list[Reading]:
    """744 hours × 7 kWh = 5 208 kWh: the 5 000 kWh cap is crossed inside hour 715."""
    return [Reading.of(hour, 7) for hour in HOURS]


def test_stromstotte_cap_crossed_mid_hour() -> None:
    """90 % above 77 øre, grossed up by 25 % VAT, for the first 5 000 kWh only, split inside the hour."""
    bill = compute_bill(
        installation(Scheme.STROMSTOTTE),
        JAN,
        seven_kwh_every_hour(),
        flat_spot(HOURS, "1.27"),
    )
    per_kwh = Fraction("0.9") * (Fraction("1.27") - Fraction("0.77")) * Fraction("1.25")
    assert per_kwh == Fraction("0.5625")
    hours = bill.hours
    assert hours[713].stromstotte == -7 * per_kwh  # 4 998 kWh counted after this hour
    assert hours[714].scheme_kwh == 2  # only 2 of its 7 kWh are under the cap
    assert hours[714].stromstotte == -2 * per_kwh
    assert all(hour.stromstotte == 0 for hour in hours[715:])
    assert bill.stromstotte == -5000 * per_kwh
    assert bill.norgespris == 0


def test_stromstotte_only_above_threshold() -> None:
    """Hours at or below the threshold pay nothing; nothing is ever charged."""
    prices = {
        hour: ("0.60" if index % 3 == 0 else "0.77" if index % 3 == 1 else "1.00")
        for index, hour in enumerate(HOURS)
    }
    spot = SpotPrices.from_series(
        [(hour, Decimal(price)) for hour, price in prices.items()], 60
    )
    readings = [Reading.of(hour, 2) for hour in HOURS[:6]]
    bill = compute_bill(installation(Scheme.STROMSTOTTE), JAN, readings, spot)
    support = [hour.stromstotte for hour in bill.hours]
    full = -2 * Fraction("0.9") * Fraction("0.23") * Fraction("1.25")
    assert support == [0, 0, full, 0, 0, full]


def test_stromstotte_vat_free_zone() -> None:
    """In Nordland/Troms the support has no VAT gross-up (threshold still 77 øre)."""
    bill = compute_bill(
        installation(Scheme.STROMSTOTTE, TaxZone.NORD_NORGE),
        JAN,
        [Reading.of(HOURS[0], 10)],
        flat_spot(HOURS, "1.27"),
    )
    assert bill.stromstotte == -10 * Fraction("0.9") * Fraction("0.5")
    assert bill.grid_energy == 10 * Fraction("0.105")  # night, no VAT


def test_norgespris_two_way_and_cap() -> None:
    """Norgespris pays (spot − 40 øre) × 1.25 when spot is high and charges it when low or negative."""
    prices = ["1.00", "0.30", "-0.05"]
    spot = SpotPrices.from_series(
        [(hour, Decimal(prices[index % 3])) for index, hour in enumerate(HOURS)], 60
    )
    bill = compute_bill(
        installation(Scheme.NORGESPRIS), JAN, seven_kwh_every_hour(), spot
    )
    expected = [
        (Fraction("0.40") - Fraction(price)) * Fraction("1.25") for price in prices
    ]
    for index in range(714):
        assert bill.hours[index].norgespris == 7 * expected[index % 3]
    assert bill.hours[714].norgespris == 2 * expected[714 % 3]
    assert all(hour.norgespris == 0 for hour in bill.hours[715:])
    assert bill.stromstotte == 0  # the schemes exclude each other
    assert sum(hour.scheme_kwh for hour in bill.hours) == 5000


def test_norgespris_cabin_cap_and_north() -> None:
    """A cabin's cap is 1 000 kWh; in the VAT-free north the reference is 40 øre flat."""
    readings = seven_kwh_every_hour()
    cabin = compute_bill(
        installation(Scheme.NORGESPRIS, dwelling=Dwelling.CABIN),
        JAN,
        readings,
        flat_spot(HOURS, "1.00"),
    )
    assert sum(hour.scheme_kwh for hour in cabin.hours) == 1000
    assert cabin.hours[142].scheme_kwh == 6  # 142 × 7 = 994 counted before it
    north = compute_bill(
        installation(Scheme.NORGESPRIS, TaxZone.NORD_NORGE),
        JAN,
        readings[:1],
        flat_spot(HOURS, "1.00"),
    )
    assert north.norgespris == -7 * Fraction("0.6")


def test_cabin_gets_no_stromstotte() -> None:
    """Ordinary cabins are not eligible for strømstøtte."""
    with pytest.raises(TariffDataError, match="not eligible"):
        compute_bill(
            installation(Scheme.STROMSTOTTE, dwelling=Dwelling.CABIN),
            JAN,
            [Reading.of(HOURS[0], 1)],
            flat_spot(HOURS, "1"),
        )


def test_quarter_hour_prices_settle_on_the_hourly_mean() -> None:
    """Since 1 Oct 2025 prices are per 15 minutes; the hour uses the mean of its four quarters."""
    hour = oslo(2026, 1, 15, 18)
    quarters = ["0.60", "0.80", "1.00", "1.20"]
    spot = SpotPrices.from_series(
        [
            (hour + timedelta(minutes=15 * index), Decimal(price))
            for index, price in enumerate(quarters)
        ]
    )
    assert spot.hourly(hour) == Fraction("0.9")
    assert spot.at(hour + timedelta(minutes=50)) == Fraction("1.2")
    bill = compute_bill(
        installation(Scheme.STROMSTOTTE), JAN, [Reading.of(hour, 4)], spot
    )
    # 0.9 × (0.90 − 0.77) × 1.25 per kWh, not the mean of per-quarter support (0.194…).
    assert bill.stromstotte == -4 * Fraction("0.14625")
    assert bill.supply_energy == 4 * Fraction("0.9") * Fraction("1.25")
    now = price_at(installation(Scheme.STROMSTOTTE), hour + timedelta(minutes=20), spot)
    assert now.spot == Fraction("0.9")
    assert now.stromstotte == -Fraction("0.14625")


def test_quarter_hour_supply_settlement() -> None:
    """With 15-minute settlement each quarter's energy meets its own price; support stays hourly."""
    hour = oslo(2026, 1, 15, 18)
    quarters = ["0.60", "0.80", "1.00", "1.20"]
    spot = SpotPrices.from_series(
        [
            (hour + timedelta(minutes=15 * index), Decimal(price))
            for index, price in enumerate(quarters)
        ]
    )
    readings = [
        Reading.of(hour + timedelta(minutes=15 * index), kwh, 15)
        for index, kwh in enumerate(["0.1", "0.2", "0.3", "0.4"])
    ]
    setup = Installation(
        BKK, scheme=Scheme.STROMSTOTTE, supply=Supply.spot(settlement_minutes=15)
    )
    bill = compute_bill(setup, JAN, readings, spot)
    quarter_cost = sum(
        Fraction(kwh) * Fraction(price)
        for kwh, price in zip(["0.1", "0.2", "0.3", "0.4"], quarters, strict=True)
    )
    assert bill.supply_energy == quarter_cost * Fraction("1.25")
    assert bill.stromstotte == -1 * Fraction("0.14625")
    assert price_at(setup, hour + timedelta(minutes=50), spot).spot == Fraction("1.2")


def test_missing_quarter_raises() -> None:
    """An hour with three of four quarter prices cannot be settled."""
    hour = oslo(2026, 1, 15, 18)
    spot = SpotPrices.from_series(
        [(hour + timedelta(minutes=15 * index), Decimal(1)) for index in range(3)], 15
    )
    with pytest.raises(MissingPriceError):
        spot.hourly(hour)
    with pytest.raises(MissingPriceError):
        compute_bill(installation(Scheme.NONE), JAN, [Reading.of(hour, 1)], spot)
    with pytest.raises(MissingPriceError):
        spot.at(hour + timedelta(hours=2))


def test_price_at_marks_the_cap() -> None:
    """Past the month's cap the next kWh gets no support."""
    spot = flat_spot(HOURS, "1.27")
    setup = installation(Scheme.STROMSTOTTE)
    assert price_at(setup, HOURS[3], spot, month_kwh=4999).stromstotte == -Fraction(
        "0.5625"
    )
    assert price_at(setup, HOURS[3], spot, month_kwh=5000).stromstotte == 0
