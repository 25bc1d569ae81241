"""The BKK February 2026 grid invoice, reproduced through the command line."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
import io
import json
from pathlib import Path

import pytest

from custom_components.han_port.tariff import (
    Installation,
    Month,
    Scheme,
    compute_bill,
    is_public_holiday,
    load_grid_company,
    to_ore,
)
from custom_components.han_port.tariff.__main__ import main

from .helpers import (
    OSLO,
    flat_spot,
    month_hours,
    oslo,
    series,
    write_consumption,
    write_spot,
)

FEB = Month(2026, 2)
# Three peaks on distinct days averaging 5.706 kW, and a second high hour on the
# day of the highest one that must not count.
PEAKS = {
    oslo(2026, 2, 10, 17): Decimal("5.9"),
    oslo(2026, 2, 10, 8): Decimal("5.8"),
    oslo(2026, 2, 17, 17): Decimal("5.718"),
    oslo(2026, 2, 24, 17): Decimal("5.5"),
}


def bkk_band(hour: datetime) -> str:
    """BKK's day rate: Monday to Friday 06-22 except holidays (none in February 2026)."""
    moment = hour.astimezone(OSLO)
    workday = moment.weekday() < 5 and not is_public_holiday(moment.date())
    return "day" if workday and 6 <= moment.hour < 22 else "night"


def february_readings():
    """Hourly consumption with the invoice's totals and peaks."""
    return series(
        FEB,
        totals={"day": Decimal("893.6"), "night": Decimal("780.2")},
        classify=bkk_band,
        fixed=PEAKS,
    )


def quarter_spot(path: Path) -> Path:
    """Write 15-minute NO5 prices for the month (the supply part is not on the grid invoice)."""
    points = []
    for hour in month_hours(FEB):
        points.extend(
            (hour + timedelta(minutes=15 * quarter), f"0.{40 + quarter}")
            for quarter in range(4)
        )
    return write_spot(path, points)


def test_fixture_has_the_invoice_totals() -> None:
    """The generated month has 893.6 kWh day, 780.2 kWh night and no other hour near the peaks."""
    readings = february_readings()
    day = sum((r.kwh for r in readings if bkk_band(r.start) == "day"), Fraction(0))
    night = sum((r.kwh for r in readings if bkk_band(r.start) == "night"), Fraction(0))
    assert (day, night) == (Fraction("893.6"), Fraction("780.2"))
    assert len(readings) == 672
    peak_starts = {hour.astimezone(OSLO) for hour in PEAKS}
    assert (
        max(r.kwh for r in readings if r.start.astimezone(OSLO) not in peak_starts) < 4
    )


def test_bkk_february_2026_cli(tmp_path: Path) -> None:
    """The CLI lands on the invoiced 1 008.86 NOK for energy part, capacity step, elavgift and Enova."""
    consumption = write_consumption(tmp_path / "consumption.csv", february_readings())
    spot = quarter_spot(tmp_path / "spot.csv")
    out = io.StringIO()
    code = main(
        [
            "bill",
            "--grid-company",
            "bkk",
            "--month",
            "2026-02",
            "--consumption",
            str(consumption),
            "--spot",
            str(spot),
            "--scheme",
            "none",
        ],
        out,
    )
    assert code == 0
    bill = json.loads(out.getvalue())
    invoiced = 1008.86
    lines = (
        bill["grid_energy"]
        + bill["grid_capacity"]["amount"]
        + bill["elavgift"]
        + bill["enova"]
    )
    assert abs(bill["grid_total"] - invoiced) <= 0.02
    assert abs(lines - invoiced) <= 0.02
    assert bill["grid_total"] == invoiced
    assert bill["kwh_day"] == 893.6
    assert bill["kwh_night"] == 780.2
    assert bill["grid_capacity"]["capacity_kw"] == 5.706
    assert bill["grid_capacity"]["amount"] == 415.0
    assert bill["grid_capacity"]["step"] == {"index": 2, "from_kw": 5, "to_kw": 10}
    assert bill["grid_capacity"]["peaks"] == [
        ["2026-02-10", 17, 5.9],
        ["2026-02-17", 17, 5.718],
        ["2026-02-24", 17, 5.5],
    ]
    assert bill["tariff"] == "bkk-2026-01"
    assert bill["stromstotte"] == bill["norgespris"] == 0
    # Quarter prices 0.40..0.43 average 0.415 per hour; supply is spot incl VAT.
    assert bill["supply"] == pytest.approx(1673.8 * 0.415 * 1.25, abs=0.005)
    assert round(abs(bill["total"] - bill["grid_total"] - bill["supply"]), 2) <= 0.01


def test_bkk_february_2026_exact() -> None:
    """In exact arithmetic the grid part is 1 008.862075 NOK: the rounded unit prices on the invoice explain no gap."""
    spot = flat_spot(month_hours(FEB), "0.5")
    bill = compute_bill(
        Installation(load_grid_company("bkk")), FEB, february_readings(), spot
    )
    assert bill.grid_total == Fraction("1008.862075")
    assert to_ore(bill.grid_total) == Decimal("1008.86")
    # Energy part: 893.6 × 28.77 øre + 780.2 × 10.50 øre, + 25 % VAT.
    assert bill.grid_energy == (
        Fraction("893.6") * Fraction("0.2877") + Fraction("780.2") * Fraction("0.105")
    ) * Fraction("1.25")
    assert bill.elavgift == Fraction("1673.8") * Fraction("0.0713") * Fraction("1.25")
    assert bill.enova == Fraction("1673.8") * Fraction("0.01") * Fraction("1.25")
    assert bill.grid_capacity.amount == 415
    assert bill.scheme is Scheme.NONE
    assert bill.notes == ()
