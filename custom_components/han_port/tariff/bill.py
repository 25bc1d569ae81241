"""The bill of a month and its month-end projection.

Per settlement hour: the grid company's energiledd by wall-clock time,
elavgift and Enova by tax zone, the supplier's price, and the scheme's hourly
settlement against the month's running kWh; the capacity charge comes from a
:class:`CapacityTracker` fed with the same readings. Amounts are exact and
include VAT where it applies; :mod:`.report` rounds them to øre for output.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
import itertools

from .capacity import CapacityMethod, Step
from .clock import Month, as_hours, floor_interval, utc
from .exact import ZERO
from .installation import Installation, Reading, scheme_credit, spot_needed
from .schemes import CapCounter, Scheme
from .spot import SpotPrices
from .taxes import TaxZone, tax_regime
from .tracker import Peak


@dataclass(frozen=True, slots=True)
class HourCost:
    """The energy-proportional cost of one settlement hour, NOK incl VAT, signed as billed."""

    start: datetime
    kwh: Fraction
    band: str
    spot: Fraction | None
    grid_energy: Fraction
    elavgift: Fraction
    enova: Fraction
    supply: Fraction
    stromstotte: Fraction
    norgespris: Fraction
    scheme_kwh: Fraction

    @property
    def total(self) -> Fraction:
        """Return the hour's cost (capacity and monthly fees excluded)."""
        return (
            self.grid_energy
            + self.elavgift
            + self.enova
            + self.supply
            + self.stromstotte
            + self.norgespris
        )


@dataclass(frozen=True, slots=True)
class CapacityCharge:
    """The month's capacity charge and what it was based on."""

    method: CapacityMethod
    capacity_kw: Fraction
    step: Step | None
    peaks: tuple[Peak, ...]
    amount: Fraction


@dataclass(frozen=True, slots=True)
class Bill:
    """Every component of a month's electricity cost, exact, NOK incl VAT where it applies."""

    month: Month
    company_id: str
    tariff_id: str
    zone: TaxZone
    scheme: Scheme
    grid_energy: Fraction
    grid_capacity: CapacityCharge
    elavgift: Fraction
    enova: Fraction
    supply_energy: Fraction
    supply_fee: Fraction
    stromstotte: Fraction
    norgespris: Fraction
    kwh_by_band: Mapping[str, Fraction]
    hours: tuple[HourCost, ...]
    notes: tuple[str, ...]

    @property
    def kwh(self) -> Fraction:
        """Return the month's energy."""
        return sum(self.kwh_by_band.values(), ZERO)

    @property
    def supply(self) -> Fraction:
        """Return the supplier's part: energy and monthly fee."""
        return self.supply_energy + self.supply_fee

    @property
    def grid_total(self) -> Fraction:
        """Return the grid invoice before the scheme: energiledd, capacity step, elavgift, Enova."""
        return self.grid_energy + self.grid_capacity.amount + self.elavgift + self.enova

    @property
    def variable(self) -> Fraction:
        """Return the part that grows with the energy used."""
        return (
            self.grid_energy
            + self.elavgift
            + self.enova
            + self.supply_energy
            + self.stromstotte
            + self.norgespris
        )

    @property
    def total(self) -> Fraction:
        """Return everything: grid, taxes, supplier and scheme."""
        return self.grid_total + self.supply + self.stromstotte + self.norgespris


def _check_readings(readings: Iterable[Reading]) -> list[Reading]:
    ordered = sorted(readings, key=lambda reading: reading.start)
    for reading in ordered:
        if floor_interval(reading.start, reading.minutes) != utc(reading.start):
            raise ValueError(
                f"reading at {reading.start.isoformat()} is not on a {reading.minutes}-minute boundary"
            )
        if reading.kwh < 0:
            raise ValueError(f"negative consumption at {reading.start.isoformat()}")
    for before, after in itertools.pairwise(ordered):
        if utc(before.start) + timedelta(minutes=before.minutes) > utc(after.start):
            raise ValueError(f"readings overlap at {after.start.isoformat()}")
    return ordered


def _aggregate(readings: Iterable[Reading], minutes: int) -> dict[datetime, Fraction]:
    """Sum readings into intervals of ``minutes``; finer data cannot be invented from coarser."""
    totals: dict[datetime, Fraction] = defaultdict(lambda: ZERO)
    for reading in readings:
        if reading.minutes > minutes:
            raise ValueError(
                f"{reading.minutes}-minute readings cannot be split into {minutes}-minute intervals"
            )
        totals[floor_interval(reading.start, minutes)] += reading.kwh
    return dict(sorted(totals.items()))


def compute_bill(
    installation: Installation,
    month: Month,
    consumption: Iterable[Reading],
    spot: SpotPrices | None = None,
    *,
    history: Iterable[Reading] = (),
) -> Bill:
    """Compute a month's bill, or the month so far when ``consumption`` stops early.

    ``history`` holds readings before the month, needed by the rolling
    capacity method (Fjellnett's 12 months). Spot prices are needed for a spot
    contract and for either scheme (strømstøtte is paid on the area price even
    to fixed-price customers). A rate past its validity raises
    :class:`RateExpiredError`.
    """
    readings = _check_readings(consumption)
    for reading in readings:
        if reading.start not in month:
            raise ValueError(
                f"reading at {reading.start.isoformat()} is not in {month}"
            )
    prices = spot_needed(installation, spot)
    supply = installation.supply
    tariff = installation.company.tariff_at(month.first_day)
    notes: dict[str, None] = dict.fromkeys(tariff.notes)

    tracker = installation.capacity_tracker(month)
    earlier = [
        reading
        for reading in _check_readings(history)
        if utc(reading.start) >= tracker.window_start
    ]
    if any(utc(reading.start) >= month.start for reading in earlier):
        raise ValueError("history must end before the month starts")
    tracker.add_all(_aggregate([*earlier, *readings], tracker.minutes).items())
    window = tariff.capacity.window_months
    covered = {Month.of(reading.start) for reading in [*earlier, *readings]}
    if window > 1 and len(covered) < window:
        notes[
            f"{tariff.id} capacity: the value uses {window} months and data covers {len(covered)}"
        ] = None

    settled = _aggregate(readings, supply.settlement_minutes)
    by_hour: dict[datetime, list[tuple[datetime, Fraction]]] = defaultdict(list)
    for start, kwh in settled.items():
        by_hour[floor_interval(start, 60)].append((start, kwh))

    counter = CapCounter()
    kwh_by_band: dict[str, Fraction] = dict.fromkeys(tariff.energy.bands, ZERO)
    hours: list[HourCost] = []
    for hour, parts in by_hour.items():
        hour_tariff = installation.tariff(hour)
        taxes = installation.taxes(hour)
        notes.update(dict.fromkeys(taxes.notes))
        gross = taxes.gross
        energy = hour_tariff.energy.price_at(hour)
        kwh = sum((part for _, part in parts), ZERO)
        kwh_by_band[energy.band] = kwh_by_band.get(energy.band, ZERO) + kwh
        supply_cost = ZERO
        for start, part in parts:
            price = (
                prices.settlement(start, supply.settlement_minutes)
                if supply.needs_spot and prices is not None
                else None
            )
            supply_cost += supply.energy_price(price) * gross * part
        rate = installation.scheme_rate(hour)
        hour_spot = (
            prices.hourly(hour)
            if prices is not None and (supply.needs_spot or rate is not None)
            else None
        )
        eligible = (
            counter.take(kwh, rate.cap(installation.dwelling))
            if rate is not None
            else ZERO
        )
        credit = scheme_credit(rate, hour_spot, gross) * eligible
        hours.append(
            HourCost(
                start=hour,
                kwh=kwh,
                band=energy.band,
                spot=hour_spot,
                grid_energy=energy.price * gross * kwh,
                elavgift=taxes.elavgift * gross * kwh,
                enova=taxes.enova * gross * kwh,
                supply=supply_cost,
                stromstotte=-credit
                if installation.scheme is Scheme.STROMSTOTTE
                else ZERO,
                norgespris=-credit
                if installation.scheme is Scheme.NORGESPRIS
                else ZERO,
                scheme_kwh=eligible,
            )
        )

    month_taxes = tax_regime().at(installation.tax_zone, month.first_day)
    return Bill(
        month=month,
        company_id=installation.company.id,
        tariff_id=tariff.id,
        zone=installation.tax_zone,
        scheme=installation.scheme,
        grid_energy=sum((hour.grid_energy for hour in hours), ZERO),
        grid_capacity=CapacityCharge(
            tariff.capacity.method,
            tracker.capacity_kw,
            tracker.step,
            tracker.peaks,
            tracker.monthly_price,
        ),
        elavgift=sum((hour.elavgift for hour in hours), ZERO),
        enova=sum((hour.enova for hour in hours), ZERO),
        supply_energy=sum((hour.supply for hour in hours), ZERO),
        supply_fee=supply.monthly_fee * month_taxes.gross,
        stromstotte=sum((hour.stromstotte for hour in hours), ZERO),
        norgespris=sum((hour.norgespris for hour in hours), ZERO),
        kwh_by_band=kwh_by_band,
        hours=tuple(hours),
        notes=tuple(notes),
    )


@dataclass(frozen=True, slots=True)
class Projection:
    """Where the month is heading: fixed parts as they stand, the rest at the pace so far."""

    total: Fraction
    kwh: Fraction
    fixed: Fraction
    variable: Fraction
    elapsed_hours: Fraction


def project_month(bill: Bill, now: datetime) -> Projection:
    """Project a month-to-date bill to the month's end at the average hourly pace so far.

    The capacity step is taken as it stands; it can only rise.
    """
    month = bill.month
    elapsed = as_hours(min(max(utc(now), month.start), month.end) - month.start)
    fixed = bill.grid_capacity.amount + bill.supply_fee
    if elapsed == 0:
        return Projection(fixed, ZERO, fixed, ZERO, ZERO)
    factor = month.hours / elapsed
    variable = bill.variable * factor
    return Projection(fixed + variable, bill.kwh * factor, fixed, variable, elapsed)
