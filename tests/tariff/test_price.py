"""The price of the next kWh, the coming hours, the month-end projection and the supply contract."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from custom_components.han_port.tariff import (
    Installation,
    MissingPriceError,
    Month,
    Reading,
    Scheme,
    SpotPoint,
    SpotPrices,
    Supply,
    TaxZone,
    compute_bill,
    ex_vat,
    grid_price_ex_taxes,
    load_grid_company,
    price_at,
    prices_ahead,
    project_month,
)
from custom_components.han_port.tariff.csvio import read_consumption_csv, read_spot_csv

from .helpers import flat_spot, month_hours, oslo

BKK = load_grid_company("bkk")
FEB = Month(2026, 2)


def test_price_now_components() -> None:
    """A Tuesday evening in February 2026 at BKK with strømstøtte, every component incl VAT."""
    hours = month_hours(FEB)
    setup = Installation(
        BKK, scheme=Scheme.STROMSTOTTE, supply=Supply.spot(markup="0.04")
    )
    price = price_at(setup, oslo(2026, 2, 10, 18, 25), flat_spot(hours, "1.17"))
    assert price.start == oslo(2026, 2, 10, 18)
    assert price.band == "day"
    assert price.tariff_id == "bkk-2026-01"
    assert price.supply == (Fraction("1.17") + Fraction("0.04")) * Fraction("1.25")
    assert price.grid_energy == Fraction("0.2877") * Fraction("1.25")
    assert price.elavgift == Fraction("0.0713") * Fraction("1.25")
    assert price.enova == Fraction("0.0125")
    assert price.stromstotte == -Fraction("0.9") * Fraction("0.40") * Fraction("1.25")
    assert price.norgespris == 0
    assert price.total == Fraction("1.5125") + Fraction("0.359625") + Fraction(
        "0.089125"
    ) + Fraction("0.0125") - Fraction("0.45")


def test_price_without_spot() -> None:
    """A fixed-price contract without a scheme needs no spot prices; a spot contract does."""
    fixed = price_at(
        Installation(BKK, supply=Supply.fixed("0.5")), oslo(2026, 2, 10, 18)
    )
    assert fixed.spot is None
    assert fixed.supply == Fraction("0.625")
    with pytest.raises(MissingPriceError):
        price_at(Installation(BKK), oslo(2026, 2, 10, 18))
    with pytest.raises(MissingPriceError):
        Supply.spot().energy_price(None)


def test_prices_ahead() -> None:
    """One price per coming hour for as long as spot prices exist."""
    start = oslo(2026, 2, 10, 13)
    spot = flat_spot([start + timedelta(hours=index) for index in range(11)], "0.8")
    ahead = prices_ahead(Installation(BKK), start + timedelta(minutes=10), spot)
    assert len(ahead) == 11
    assert [price.band for price in ahead[:10]] == ["day"] * 9 + ["night"]
    assert len(prices_ahead(Installation(BKK), start, spot, limit=3)) == 3


def test_projection() -> None:
    """Ten days of a 28-day month project the energy parts ×2.8; the capacity step and fee stay."""
    hours = month_hours(FEB)[: 24 * 10]
    readings = [Reading.of(hour, 2) for hour in hours]
    setup = Installation(BKK, supply=Supply.spot(monthly_fee="40"))
    bill = compute_bill(setup, FEB, readings, flat_spot(hours, "0.5"))
    projection = project_month(bill, oslo(2026, 2, 11))
    assert projection.elapsed_hours == 240
    assert projection.kwh == 480 * Fraction(672, 240)
    assert projection.fixed == bill.grid_capacity.amount + 50
    assert projection.total == projection.fixed + bill.variable * Fraction(672, 240)
    start = project_month(bill, oslo(2026, 1, 20))
    assert start.total == start.fixed
    assert project_month(bill, oslo(2026, 3, 5)).kwh == 480 * Fraction(672, 672)


def test_bill_checks_its_input() -> None:
    """Readings outside the month, misaligned, overlapping or negative are refused."""
    setup = Installation(BKK, supply=Supply.fixed(0))
    for readings, message in (
        ([Reading.of(oslo(2026, 3, 1), 1)], "not in 2026-02"),
        ([Reading(oslo(2026, 2, 1, 0, 15), Fraction(1))], "boundary"),
        (
            [
                Reading.of(oslo(2026, 2, 1), 1),
                Reading.of(oslo(2026, 2, 1, 0, 15), 1, 15),
            ],
            "overlap",
        ),
        ([Reading.of(oslo(2026, 2, 1), -1)], "negative"),
    ):
        with pytest.raises(ValueError, match=message):
            compute_bill(setup, FEB, readings)
    with pytest.raises(MissingPriceError):
        compute_bill(
            Installation(BKK, scheme=Scheme.STROMSTOTTE, supply=Supply.fixed(0)),
            FEB,
            [],
        )
    empty = compute_bill(setup, FEB, [])
    assert empty.kwh == 0
    assert empty.grid_capacity.amount == 155  # the lowest step is charged anyway


def test_spot_series() -> None:
    """Resolution is read from the spacing; a mixed series (hourly, then quarters) works."""
    hour = oslo(2025, 9, 30, 23)
    pairs = [(hour, Decimal("0.5"))] + [
        (hour + timedelta(minutes=60 + 15 * index), Decimal(index))
        for index in range(4)
    ]
    spot = SpotPrices.from_series(pairs)
    assert len(spot) == 5
    assert spot.hourly(hour) == Fraction("0.5")
    assert spot.hourly(hour + timedelta(hours=1)) == Fraction(6, 4)
    assert spot.at(hour + timedelta(minutes=30)) == Fraction("0.5")
    gap = SpotPrices.from_series(
        [
            (hour, Decimal(1)),
            (hour + timedelta(hours=3), Decimal(2)),
            (hour + timedelta(hours=4), Decimal(3)),
        ]
    )
    assert gap.hourly(hour) == 1
    assert (
        gap.at(hour + timedelta(minutes=59)) == 1
    )  # the leading point took the first known length
    with pytest.raises(ValueError, match="resolution"):
        SpotPrices.from_series([(hour, Decimal(1))])
    with pytest.raises(ValueError, match="boundary"):
        SpotPrices([SpotPoint(hour + timedelta(minutes=15), 60, Fraction(1))])
    with pytest.raises(ValueError, match="overlap"):
        SpotPrices(
            [
                SpotPoint(hour, 60, Fraction(1)),
                SpotPoint(hour + timedelta(minutes=15), 15, Fraction(1)),
            ]
        )
    with pytest.raises(ValueError):
        Supply(settlement_minutes=30)


def test_csv_readers() -> None:
    """CSV rows with offsets, in any order; a single spot row is taken as hourly."""
    readings = read_consumption_csv(
        "start,kwh\n2026-02-01T00:15:00+01:00,0.5\n2026-02-01T00:00:00+01:00,0.25\n"
    )
    assert [(reading.minutes, reading.kwh) for reading in readings] == [
        (15, Fraction(1, 4)),
        (15, Fraction(1, 2)),
    ]
    spot = read_spot_csv("start,nok_per_kwh\n2026-02-01T00:00:00+01:00,0.7\n")
    assert spot.hourly(oslo(2026, 2, 1)) == Fraction("0.7")
    with pytest.raises(ValueError, match="boundary"):
        read_consumption_csv("start,kwh\n2026-02-01T00:10:00+01:00,0.5\n")
    with pytest.raises(ValueError, match="resolution"):
        SpotPrices.from_series(
            [(oslo(2026, 2, 1), Decimal(1)), (oslo(2026, 2, 2), Decimal(1))]
        )


def test_price_conversions() -> None:
    """A price quoted incl everything turns into the stored ex-VAT, ex-tax figure."""
    assert grid_price_ex_taxes(
        Fraction("0.4640"), TaxZone.STANDARD, date(2026, 7, 1)
    ) == Fraction("0.2899")
    assert grid_price_ex_taxes(
        Fraction("0.2216"), TaxZone.NORD_NORGE, date(2026, 7, 1)
    ) == Fraction("0.1403")
    assert ex_vat(Fraction(415), TaxZone.STANDARD, date(2026, 2, 1)) == 332
