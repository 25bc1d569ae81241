"""What the user configured, and the metered energy the engine prices.

:class:`Installation` is what the Home Assistant options flow produces: the
grid company, tax zone (the company's unless overridden), scheme, supplier
contract, dwelling type and, for fuse tariffs, the fuse row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from .clock import Month, check_interval_minutes, floor_interval, local, utc
from .errors import MissingPriceError
from .exact import ZERO, Number, exact
from .grid import GridCompany, GridTariff
from .schemes import Dwelling, Scheme, SchemeRate, scheme_regime
from .spot import SpotPrices, Supply
from .taxes import Taxes, TaxZone, tax_regime
from .tracker import CapacityTracker


@dataclass(frozen=True, slots=True)
class Reading:
    """Energy imported in one metering interval (from the meter's registers)."""

    start: datetime
    kwh: Fraction
    minutes: int = 60

    @classmethod
    def of(cls, start: datetime, kwh: Number, minutes: int = 60) -> Reading:
        """Build a reading from any exact number; the start must begin a metering interval."""
        moment = utc(start)
        if floor_interval(moment, check_interval_minutes(minutes)) != moment:
            raise ValueError(
                f"{start.isoformat()} is not on a {minutes}-minute boundary"
            )
        return cls(moment, exact(kwh), minutes)


@dataclass(frozen=True, slots=True)
class Installation:
    """What the user configured: grid company, tax zone, scheme, supplier contract.

    ``zone`` defaults to the company's; ``metering_minutes`` overrides the
    capacity metering interval (60 now, 15 once the meter point is switched).
    """

    company: GridCompany
    zone: TaxZone | None = None
    scheme: Scheme = Scheme.NONE
    supply: Supply = field(default_factory=Supply)
    dwelling: Dwelling = Dwelling.HOUSEHOLD
    fuse: str | None = None
    metering_minutes: int | None = None

    @property
    def tax_zone(self) -> TaxZone:
        """Return the zone in force: the override or the company's default."""
        return self.zone if self.zone is not None else self.company.default_zone

    def tariff(self, instant: datetime) -> GridTariff:
        """Return the grid tariff valid at an instant."""
        return self.company.tariff_at(local(instant).date())

    def taxes(self, instant: datetime) -> Taxes:
        """Return the tax rates at an instant for this zone."""
        return tax_regime().at(self.tax_zone, local(instant).date())

    def scheme_rate(self, instant: datetime) -> SchemeRate | None:
        """Return the scheme's rate at an instant, ``None`` without a scheme."""
        if self.scheme is Scheme.NONE:
            return None
        return scheme_regime().timelines[self.scheme].at(local(instant).date()).value

    def capacity_tracker(self, month: Month) -> CapacityTracker:
        """Return an empty tracker for a month, priced incl VAT in this zone."""
        tariff = self.company.tariff_at(month.first_day)
        vat = tax_regime().at(self.tax_zone, month.first_day).vat
        return CapacityTracker(
            tariff.capacity,
            month,
            vat=vat,
            fuse=self.fuse,
            interval_minutes=self.metering_minutes,
        )


def scheme_credit(
    rate: SchemeRate | None, spot: Fraction | None, gross: Fraction
) -> Fraction:
    """Return the scheme's credit per eligible kWh incl VAT, zero without a scheme."""
    if rate is None or spot is None:
        return ZERO
    return rate.per_kwh(spot, gross)


def spot_needed(
    installation: Installation, spot: SpotPrices | None
) -> SpotPrices | None:
    """Return the spot prices, or raise if the contract or the scheme needs them and they are absent."""
    if spot is None and (
        installation.supply.needs_spot or installation.scheme is not Scheme.NONE
    ):
        raise MissingPriceError("this contract or scheme needs spot prices")
    return spot
