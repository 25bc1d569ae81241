"""The capacity part of the grid rent (kapasitetsledd): methods, steps and their prices.

Four methods are data, not code per company:

* ``top_n_daily_max`` - mean of the N highest daily maxima on distinct days of
  the month (N = 3 for about 70 companies), priced by a staircase of steps;
* ``monthly_max`` - the single highest interval of the month, same staircase;
* ``fuse`` - a price per main-fuse row the user selects, nothing measured;
* ``weighted_weekly_rolling`` - a base fee plus NOK/kW times the mean of the
  N highest weekly maxima over a rolling window, each hour weighted by its
  month (Fjellnett).

The value is computed from metering-interval energy (60 minutes now, 15 when
the metering changes): kW = kWh in the interval divided by its length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
import itertools

from .clock import check_interval_minutes
from .errors import MissingRateError, TariffDataError
from .exact import ZERO
from .timeline import PROVENANCE_KEYS, Provenance, Reader, parse_number, read_provenance


class CapacityMethod(StrEnum):
    """How the capacity value is measured."""

    TOP_N_DAILY_MAX = "top_n_daily_max"
    MONTHLY_MAX = "monthly_max"
    FUSE = "fuse"
    WEIGHTED_WEEKLY_ROLLING = "weighted_weekly_rolling"


PRICE_UNITS = {"NOK/year": 12, "NOK/month": 1}


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a staircase; ``price`` per ``price_unit`` ex VAT, ``None`` if unpublished."""

    index: int
    from_kw: Fraction
    to_kw: Fraction | None
    price: Fraction | None
    uncertain: bool = False
    note: str | None = None


@dataclass(frozen=True, slots=True)
class FuseRow:
    """A main-fuse row of the ``fuse`` method."""

    id: str
    label: str
    price: Fraction


@dataclass(frozen=True, slots=True)
class CapacityPart:
    """A capacity method with its parameters and prices (ex VAT)."""

    method: CapacityMethod
    price_unit: str
    provenance: Provenance
    interval_minutes: int = 60
    n: int = 3
    steps: tuple[Step, ...] = ()
    threshold_inclusive: bool = True
    fuse_rows: tuple[FuseRow, ...] = ()
    base_fee: Fraction = ZERO
    per_kw: Fraction = ZERO
    month_weights: tuple[Fraction, ...] = ()
    window_months: int = 1
    value_decimals: int | None = None

    @property
    def months_per_unit(self) -> int:
        """Return 12 for yearly prices, 1 for monthly ones."""
        return PRICE_UNITS[self.price_unit]

    def step_for(self, kw: Fraction) -> Step:
        """Return the step of a capacity value.

        With ``threshold_inclusive`` (the common rule, "5-9.99 kW") a value
        exactly on a boundary belongs to the higher step; without it ("til og
        med") it stays in the lower one.
        """
        chosen = self.steps[0]
        for step in self.steps[1:]:
            if kw > step.from_kw or (self.threshold_inclusive and kw == step.from_kw):
                chosen = step
        return chosen

    def monthly_price(self, step: Step, day: date) -> Fraction:
        """Return a step's price per month ex VAT, or raise if it was never published."""
        if step.price is None:
            upper = f"-{step.to_kw}" if step.to_kw is not None else "+"
            raise MissingRateError(
                "capacity step",
                day,
                f"capacity step {step.from_kw}{upper} kW has no known price: {step.note}",
            )
        return step.price / self.months_per_unit

    def fuse_row(self, row_id: str | None) -> FuseRow:
        """Return the selected fuse row."""
        for row in self.fuse_rows:
            if row.id == row_id:
                return row
        known = ", ".join(row.id for row in self.fuse_rows)
        raise ValueError(f"select a fuse row ({known}), not {row_id!r}")


# --- reading ---------------------------------------------------------------------

CAPACITY_KEYS = (
    "method",
    "n",
    "interval_minutes",
    "threshold_inclusive",
    "price_unit",
    "steps",
    "rows",
    "base_fee",
    "per_kw",
    "month_weights",
    "window_months",
    "value_decimals",
    *PROVENANCE_KEYS,
)


def _steps(reader: Reader) -> tuple[Step, ...]:
    raw = reader.items("steps")
    bounds: list[tuple[Fraction, Fraction | None, bool, str | None]] = []
    for index, item in enumerate(raw):
        step = Reader(
            f"{reader.where}.steps[{index}]",
            item,
            ("from_kw", "price", "uncertain", "note"),
        )
        price = step.number("price") if step.has("price") else None
        note = step.optional_text("note")
        if (price is None or step.flag("uncertain")) and note is None:
            raise TariffDataError(
                f"{step.where}: an unknown or uncertain price needs a note"
            )
        if price is not None and price < 0:
            raise TariffDataError(f"{step.where}.price: negative")
        bounds.append(
            (
                step.number("from_kw"),
                price,
                step.flag("uncertain") or price is None,
                note,
            )
        )
    if not bounds or bounds[0][0] != 0:
        raise TariffDataError(
            f"{reader.where}.steps: the first step must start at 0 kW"
        )
    for (low, *_), (high, *_) in itertools.pairwise(bounds):
        if high <= low:
            raise TariffDataError(
                f"{reader.where}.steps: boundaries must increase ({low} then {high})"
            )
    uppers: list[Fraction | None] = [bound[0] for bound in bounds[1:]]
    uppers.append(None)
    return tuple(
        Step(index, low, upper, price, uncertain, note)
        for index, ((low, price, uncertain, note), upper) in enumerate(
            zip(bounds, uppers, strict=True)
        )
    )


def _fuse_rows(reader: Reader) -> tuple[FuseRow, ...]:
    rows = tuple(
        FuseRow(row.text("id"), row.text("label"), row.number("price"))
        for row in (
            Reader(f"{reader.where}.rows[{index}]", raw, ("id", "label", "price"))
            for index, raw in enumerate(reader.items("rows"))
        )
    )
    if not rows or len({row.id for row in rows}) != len(rows):
        raise TariffDataError(
            f"{reader.where}.rows: need at least one row and unique ids"
        )
    return rows


def _weights(reader: Reader) -> tuple[Fraction, ...]:
    raw = reader.mapping("month_weights")
    if set(raw) != {str(month) for month in range(1, 13)}:
        raise TariffDataError(
            f"{reader.where}.month_weights: give a weight for months 1..12"
        )
    weights = tuple(
        parse_number(f"{reader.where}.month_weights.{month}", raw[str(month)])
        for month in range(1, 13)
    )
    if any(not 0 < weight <= 1 for weight in weights):
        raise TariffDataError(
            f"{reader.where}.month_weights: weights must be in (0, 1]"
        )
    return weights


def read_capacity(reader: Reader) -> CapacityPart:
    """Read a ``capacity`` object and check the parameters its method needs."""
    try:
        method = CapacityMethod(reader.text("method"))
    except ValueError:
        raise TariffDataError(f"{reader.where}.method: unknown method") from None
    unit = reader.text("price_unit")
    if unit not in PRICE_UNITS:
        raise TariffDataError(
            f"{reader.where}.price_unit: expected one of {sorted(PRICE_UNITS)}"
        )
    try:
        minutes = check_interval_minutes(reader.integer("interval_minutes", 60))
    except ValueError as err:
        raise TariffDataError(f"{reader.where}.interval_minutes: {err}") from err
    provenance = read_provenance(reader)
    match method:
        case CapacityMethod.FUSE:
            return CapacityPart(method, unit, provenance, fuse_rows=_fuse_rows(reader))
        case CapacityMethod.WEIGHTED_WEEKLY_ROLLING:
            return CapacityPart(
                method,
                unit,
                provenance,
                interval_minutes=minutes,
                n=_positive(reader, "n"),
                base_fee=reader.number("base_fee"),
                per_kw=reader.number("per_kw"),
                month_weights=_weights(reader),
                window_months=_positive(reader, "window_months"),
                value_decimals=reader.integer("value_decimals")
                if reader.has("value_decimals")
                else None,
            )
        case _:
            return CapacityPart(
                method,
                unit,
                provenance,
                interval_minutes=minutes,
                n=1 if method is CapacityMethod.MONTHLY_MAX else _positive(reader, "n"),
                steps=_steps(reader),
                threshold_inclusive=reader.flag("threshold_inclusive", default=True),
            )


def _positive(reader: Reader, key: str) -> int:
    value = reader.integer(key)
    if value < 1:
        raise TariffDataError(f"{reader.where}.{key}: must be at least 1")
    return value
