"""Capacity methods, step boundaries and the power headroom."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from fractions import Fraction
import json

import pytest

from custom_components.han_port.tariff import (
    CapacityMethod,
    CapacityTracker,
    Installation,
    MissingRateError,
    Month,
    Reading,
    Supply,
    bill_to_json,
    compute_bill,
    custom_grid_company,
    load_grid_company,
    parse_grid_company,
)
from custom_components.han_port.tariff.resources import data_text

from .helpers import month_hours, oslo

FEB = Month(2026, 2)
STEPS = [(0, 100), (2, 200), (5, 300), (10, 400)]


def five_kw_three_days() -> list[Reading]:
    """Three daily maxima of exactly 5.000 kWh, on distinct days."""
    return [Reading.of(oslo(2026, 2, day, 18), "5.000") for day in (3, 4, 5)] + [
        Reading.of(oslo(2026, 2, 3, 3), "1.5")
    ]


@pytest.mark.parametrize(
    ("inclusive", "index", "price"), [(True, 2, 300), (False, 1, 200)]
)
def test_step_boundary_rule(inclusive: bool, index: int, price: int) -> None:
    """Exactly 5.00 kW: the higher step when the threshold is inclusive, the lower one otherwise."""
    company = custom_grid_company(
        day_price="0.3", night_price="0.2", steps=STEPS, threshold_inclusive=inclusive
    )
    bill = compute_bill(
        Installation(company, supply=Supply.fixed(0)), FEB, five_kw_three_days()
    )
    assert bill.grid_capacity.capacity_kw == 5
    assert bill.grid_capacity.step is not None
    assert bill.grid_capacity.step.index == index
    assert bill.grid_capacity.amount == price * Fraction("1.25")


def test_shipped_inclusive_boundary() -> None:
    """Griug: '2-4.99 kW -> step 2; 5.00 -> step 3'."""
    part = load_grid_company("griug").tariff_at(FEB.first_day).capacity
    assert part.step_for(Fraction("4.99")).index == 1
    assert part.step_for(Fraction(5)).index == 2
    assert part.step_for(Fraction(0)).index == 0
    assert part.step_for(Fraction(250)).to_kw is None


def test_top_n_distinct_days_and_tracker() -> None:
    """Two high hours on one day count once; the value, step and margin follow the top three days."""
    part = load_grid_company("bkk").tariff_at(FEB.first_day).capacity
    tracker = CapacityTracker(part, FEB, vat=Fraction("0.25"))
    assert tracker.capacity_kw == 0
    tracker.add_all(
        [
            (oslo(2026, 2, 2, 17), "6"),
            (oslo(2026, 2, 2, 18), "7"),
            (oslo(2026, 2, 3, 18), "4"),
            (oslo(2026, 2, 4, 18), "2"),
            (oslo(2026, 2, 5, 18), "1"),
        ]
    )
    assert [peak.kwh for peak in tracker.peaks] == [7, 4, 2]
    assert tracker.peaks[0].local_start == oslo(2026, 2, 2, 18)
    assert tracker.capacity_kw == Fraction(13, 3)
    assert tracker.step is not None and tracker.step.from_kw == 2
    assert tracker.kw_to_next_step == 5 - Fraction(13, 3)
    assert tracker.monthly_price == 250
    assert tracker.monthly_price_ex_vat == 200
    with pytest.raises(ValueError, match="already counted"):
        tracker.add(oslo(2026, 2, 5, 18), 1)
    with pytest.raises(ValueError, match="outside"):
        tracker.add(oslo(2026, 3, 1, 0), 1)
    with pytest.raises(ValueError, match="start of a 60-minute"):
        tracker.add(oslo(2026, 2, 6, 18, 15), 1)
    with pytest.raises(ValueError, match="negative"):
        tracker.add(oslo(2026, 2, 6, 18), -1)


def test_monthly_max() -> None:
    """The single highest hour of the month decides (Sør Aurdal's method)."""
    company = custom_grid_company(day_price="0.3", steps=STEPS, peaks=1)
    part = company.tariff_at(FEB.first_day).capacity
    assert part.method is CapacityMethod.MONTHLY_MAX
    bill = compute_bill(
        Installation(company, supply=Supply.fixed(0)), FEB, five_kw_three_days()
    )
    assert bill.grid_capacity.capacity_kw == 5
    assert len(bill.grid_capacity.peaks) == 1
    assert bill.kwh_by_band == {"flat": Fraction("16.5")}


def test_headroom_worked_example() -> None:
    """After 40 minutes at 3.6 kW, with the other days' maxima 5.2/4.8/4.5/3.9 kWh and 3.0 earlier today.

    The hour may end at 4.5 kWh (the third-highest other day) without raising
    the value; 2.4 kWh are used, 20 minutes remain: (4.5 − 2.4) kWh / (1/3) h = 6 300 W.
    """
    part = load_grid_company("bkk").tariff_at(FEB.first_day).capacity
    tracker = CapacityTracker(part, FEB, vat=Fraction("0.25"))
    for day, kwh in ((2, "5.2"), (3, "4.8"), (4, "4.5"), (5, "3.9")):
        tracker.add(oslo(2026, 2, day, 18), kwh)
    tracker.add(oslo(2026, 2, 6, 7), "3.0")
    now = oslo(2026, 2, 6, 8, 40)
    energy = Fraction("3.6") * Fraction(40, 60)
    headroom = tracker.headroom(now, energy)
    assert headroom is not None
    assert headroom.threshold_kwh == Fraction("4.5")
    assert headroom.watts == 6300
    assert headroom.interval_start == oslo(2026, 2, 6, 8)
    assert headroom.interval_end == oslo(2026, 2, 6, 9)
    # Today's own maximum is higher than the third day: up to it costs nothing.
    tracker.add(oslo(2026, 2, 6, 8), "5.0")
    later = tracker.headroom(oslo(2026, 2, 6, 9, 30), Fraction(1))
    assert later is not None and later.threshold_kwh == 5
    assert later.watts == 8000
    # Already past the threshold: nothing left.
    spent = tracker.headroom(oslo(2026, 2, 6, 10, 30), Fraction(6))
    assert spent is not None and spent.watts == 0


def test_headroom_early_in_the_month() -> None:
    """With fewer than three days, any hour above the current mean raises the value."""
    part = load_grid_company("bkk").tariff_at(FEB.first_day).capacity
    tracker = CapacityTracker(part, FEB, vat=Fraction(0))
    first = tracker.headroom(oslo(2026, 2, 1, 0, 30), 0)
    assert (
        first is not None and first.watts == 0
    )  # nothing measured yet: any draw raises it
    tracker.add(oslo(2026, 2, 1, 0), "2")
    tracker.add(oslo(2026, 2, 1, 1), "3")
    same_day = tracker.headroom(oslo(2026, 2, 1, 2, 30), "1")
    assert same_day is not None and same_day.threshold_kwh == 3
    next_day = tracker.headroom(oslo(2026, 2, 2, 0, 45), "1")
    assert next_day is not None and next_day.threshold_kwh == 3
    assert next_day.watts == 8000  # (3 − 1) kWh in a quarter of an hour


def test_fifteen_minute_metering() -> None:
    """Configured to 15 minutes, the peak is the highest quarter's energy × 4."""
    company = load_grid_company("bkk")
    quarters = [
        Reading.of(oslo(2026, 2, 3, 18) + timedelta(minutes=15 * index), kwh, 15)
        for index, kwh in enumerate(["0.5", "2", "0.5", "0.5"])
    ]
    hourly = compute_bill(Installation(company, supply=Supply.fixed(0)), FEB, quarters)
    assert hourly.grid_capacity.capacity_kw == Fraction("3.5")
    fine = compute_bill(
        Installation(company, supply=Supply.fixed(0), metering_minutes=15),
        FEB,
        quarters,
    )
    assert fine.grid_capacity.capacity_kw == 8
    assert fine.grid_capacity.peaks[0].kwh == 2
    tracker = Installation(company, metering_minutes=15).capacity_tracker(FEB)
    tracker.add(oslo(2026, 2, 3, 18, 15), "2")
    headroom = tracker.headroom(oslo(2026, 2, 4, 18, 5), "0.5")
    assert headroom is not None
    assert headroom.interval_end - headroom.interval_start == timedelta(minutes=15)
    assert headroom.threshold_kwh == 2
    assert headroom.watts == 9000  # 1.5 kWh in the 10 minutes left
    with pytest.raises(ValueError, match="cannot be split"):
        compute_bill(
            Installation(company, supply=Supply.fixed(0), metering_minutes=15),
            FEB,
            [Reading.of(oslo(2026, 2, 3, 18), 1)],
        )


def test_unpublished_step_raises() -> None:
    """Tensio TS's 2025 steps between 15 kW and 500 kW are not in the sources: no guessing."""
    company = load_grid_company("tensio_ts")
    month = Month(2025, 2)
    readings = [Reading.of(oslo(2025, 2, day, 18), 20) for day in (3, 4, 5)]
    with pytest.raises(MissingRateError, match="no known price"):
        compute_bill(Installation(company, supply=Supply.fixed(0)), month, readings)
    small = compute_bill(
        Installation(company, supply=Supply.fixed(0)),
        month,
        [Reading.of(oslo(2025, 2, 3, 18), 3)],
    )
    assert small.grid_capacity.amount == 244


def test_fuse_method() -> None:
    """A fuse tariff charges the selected row and has no peaks or headroom."""
    raw = json.loads(data_text("grid", "lede.json"))
    raw["id"] = "fusenett"
    tariff = raw["tariffs"][-1]
    tariff["id"] = "fusenett-2026-05"
    tariff["capacity"] = {
        "method": "fuse",
        "price_unit": "NOK/year",
        "rows": [
            {"id": "3x25A_230V", "label": "3×25 A 230 V", "price": "3500"},
            {"id": "3x63A_400V", "label": "3×63 A 400 V", "price": "4500"},
        ],
        "source": {"name": "test", "date": "2026-01-01"},
    }
    raw["tariffs"] = [tariff]
    company = parse_grid_company(raw)
    bill = compute_bill(
        Installation(company, supply=Supply.fixed(0), fuse="3x63A_400V"),
        Month(2026, 6),
        [Reading.of(oslo(2026, 6, 3, 18), 9)],
    )
    assert bill.grid_capacity.amount == Fraction(4500, 12) * Fraction("1.25")
    assert bill.grid_capacity.step is None
    tracker = Installation(company, fuse="3x25A_230V").capacity_tracker(Month(2026, 6))
    assert not tracker.measured
    assert tracker.headroom(oslo(2026, 6, 3, 18), 1) is None
    assert tracker.kw_to_next_step is None
    with pytest.raises(ValueError, match="select a fuse row"):
        Installation(company).capacity_tracker(Month(2026, 6))


def test_weighted_weekly_rolling() -> None:
    """Fjellnett: weekly maxima of month-weighted hours over 12 months, top 5 averaged, 2 decimals."""
    company = load_grid_company("fjellnett")
    month = Month(2026, 6)
    weekly = {
        oslo(2026, 1, 6, 18): "8",  # January weight 1.00 -> 8
        oslo(2026, 1, 7, 18): "9",  # same ISO week: only the 9 counts
        oslo(2026, 2, 10, 18): "7",  # 7
        oslo(2026, 3, 10, 18): "8",  # 0.85 -> 6.8
        oslo(2026, 4, 14, 18): "10",  # 0.50 -> 5
        oslo(2026, 5, 12, 18): "10",  # 0.30 -> 3
        oslo(2026, 6, 2, 18): "12",  # 0.25 -> 3
    }
    readings = [Reading.of(start, kwh) for start, kwh in weekly.items()]
    history = [reading for reading in readings if reading.start < month.start]
    current = [reading for reading in readings if reading.start >= month.start]
    bill = compute_bill(
        Installation(company, supply=Supply.fixed(0)), month, current, history=history
    )
    value = (9 + 7 + Fraction("6.8") + 5 + 3) / 5
    assert bill.grid_capacity.capacity_kw == Fraction("6.16")
    assert value == Fraction("6.16")
    assert bill.grid_capacity.amount == (2000 + 534 * Fraction("6.16")) / 12 * Fraction(
        "1.25"
    )
    assert bill.grid_capacity.step is None
    assert bill_to_json(bill)["grid_capacity"]["step"] is None
    assert any("data covers 6" in note for note in bill.notes)
    tracker = Installation(company).capacity_tracker(month)
    tracker.add_all((reading.start, reading.kwh) for reading in readings)
    headroom = tracker.headroom(oslo(2026, 6, 9, 18, 30), "0.5")
    assert headroom is not None
    # The fifth week is 3 weighted kW; in June (weight 0.25) that is 12 kWh in the hour.
    assert headroom.threshold_kwh == 12
    with pytest.raises(ValueError, match="before the month"):
        compute_bill(
            Installation(company, supply=Supply.fixed(0)),
            month,
            current,
            history=current,
        )


def test_rounding_of_weighted_value() -> None:
    """The billed effect has two decimals."""
    company = load_grid_company("fjellnett")
    month = Month(2026, 1)
    bill = compute_bill(
        Installation(company, supply=Supply.fixed(0)),
        month,
        [Reading.of(month_hours(month)[0], "1.234")],
    )
    assert bill.grid_capacity.capacity_kw == Fraction("1.23")


def test_step_headroom_worked_example() -> None:
    """The same afternoon as the worked example, measured against the next step (5 kW).

    The value is 4.83 kW (step 2–5); the hour may end at 3 × 5 − (5.2 + 4.8) =
    5.0 kWh before the mean reaches 5 kW: (5.0 − 2.4) kWh / (1/3) h = 7 800 W,
    more than the 6 300 W that keep the value where it is.
    """
    part = load_grid_company("bkk").tariff_at(FEB.first_day).capacity
    tracker = CapacityTracker(part, FEB, vat=Fraction("0.25"))
    for day, kwh in ((2, "5.2"), (3, "4.8"), (4, "4.5"), (5, "3.9")):
        tracker.add(oslo(2026, 2, day, 18), kwh)
    tracker.add(oslo(2026, 2, 6, 7), "3.0")
    now = oslo(2026, 2, 6, 8, 40)
    energy = Fraction("3.6") * Fraction(40, 60)
    step = tracker.step_headroom(now, energy)
    strict = tracker.headroom(now, energy)
    assert step is not None and strict is not None
    assert step.threshold_kwh == 5
    assert step.watts == 7800
    assert step.watts > strict.watts
    # Drawing exactly the threshold lands the value on the boundary: the next step.
    tracker.add(oslo(2026, 2, 6, 8), step.threshold_kwh)
    assert tracker.capacity_kw == 5
    assert tracker.step is not None and tracker.step.from_kw == 5


def test_step_headroom_early_in_the_month() -> None:
    """In a month's first hour the strict headroom is 0 W; the step allows up to 2 kWh."""
    part = load_grid_company("bkk").tariff_at(FEB.first_day).capacity
    tracker = CapacityTracker(part, FEB, vat=Fraction(0))
    step = tracker.step_headroom(oslo(2026, 2, 1, 0, 30), "0.5")
    assert step is not None
    assert step.threshold_kwh == 2
    assert step.watts == 3000  # (2 − 0.5) kWh in half an hour


def test_step_headroom_none_on_the_top_step_and_without_steps() -> None:
    """Above the last boundary, and for per-kW or fuse tariffs, there is no next step."""
    part = load_grid_company("bkk").tariff_at(FEB.first_day).capacity
    tracker = CapacityTracker(part, FEB, vat=Fraction(0))
    tracker.add(oslo(2026, 2, 1, 18), "150")
    assert tracker.step is not None and tracker.step.to_kw is None
    assert tracker.step_headroom(oslo(2026, 2, 2, 18, 30), 0) is None
    rolling = load_grid_company("fjellnett").tariff_at(FEB.first_day).capacity
    assert not rolling.steps
    per_kw = CapacityTracker(rolling, FEB, vat=Fraction(0))
    assert per_kw.step_headroom(oslo(2026, 2, 2, 18, 30), 0) is None


@pytest.mark.parametrize(
    ("inclusive", "threshold"),
    [(True, Fraction("1.95")), (False, Fraction("2.05"))],
)
def test_step_headroom_with_a_rounded_value(
    inclusive: bool, threshold: Fraction
) -> None:
    """A value rounded to 0.1 kW reaches the 2 kW step from 1.95 kW, or passes it from 2.05."""
    part = replace(
        load_grid_company("bkk").tariff_at(FEB.first_day).capacity,
        value_decimals=1,
        threshold_inclusive=inclusive,
    )
    tracker = CapacityTracker(part, FEB, vat=Fraction(0))
    step = tracker.step_headroom(oslo(2026, 2, 1, 0), 0)
    assert step is not None and step.threshold_kwh == threshold
    below = CapacityTracker(part, FEB, vat=Fraction(0))
    below.add(oslo(2026, 2, 1, 0), threshold - Fraction(1, 1000))
    assert below.step is not None and below.step.from_kw == 0
    tracker.add(oslo(2026, 2, 1, 0), threshold)
    assert tracker.step is not None and tracker.step.from_kw == 2
