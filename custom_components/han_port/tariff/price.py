"""The price of the next kWh now and in the coming hours, component by component.

This feeds the "price now" sensor, usable as the Energy dashboard's price
entity, and its forecast attribute: the settlement interval's spot price,
grid energiledd, taxes and the scheme's hourly credit, all incl VAT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from .clock import floor_interval
from .errors import MissingPriceError
from .exact import ZERO, Number, exact
from .installation import Installation, scheme_credit, spot_needed
from .schemes import Scheme
from .spot import SpotPrices


@dataclass(frozen=True, slots=True)
class PriceBreakdown:
    """The marginal price of one kWh in a settlement interval, NOK/kWh.

    Every component is incl VAT where VAT applies and signed as it adds to the
    bill: strømstøtte is a credit (≤ 0), Norgespris is negative when the spot
    price is above the reference and positive below it. ``spot`` is ex VAT.
    """

    start: datetime
    minutes: int
    tariff_id: str
    band: str
    vat: Fraction
    spot: Fraction | None
    supply: Fraction
    grid_energy: Fraction
    elavgift: Fraction
    enova: Fraction
    stromstotte: Fraction
    norgespris: Fraction

    @property
    def total(self) -> Fraction:
        """Return the all-included price of the next kWh."""
        return (
            self.supply
            + self.grid_energy
            + self.elavgift
            + self.enova
            + self.stromstotte
            + self.norgespris
        )


def price_at(
    installation: Installation,
    instant: datetime,
    spot: SpotPrices | None = None,
    *,
    month_kwh: Number = 0,
) -> PriceBreakdown:
    """Return what the next kWh costs at ``instant``, component by component.

    ``month_kwh`` is the energy already used this month: once it passes the
    scheme's cap the next kWh gets no strømstøtte or Norgespris.
    """
    prices = spot_needed(installation, spot)
    supply = installation.supply
    start = floor_interval(instant, supply.settlement_minutes)
    tariff = installation.tariff(start)
    taxes = installation.taxes(start)
    energy = tariff.energy.price_at(start)
    spot_price = (
        prices.settlement(start, supply.settlement_minutes)
        if prices is not None and supply.needs_spot
        else None
    )
    rate = installation.scheme_rate(start)
    credit = ZERO
    if (
        rate is not None
        and exact(month_kwh) < rate.cap(installation.dwelling)
        and prices is not None
    ):
        credit = scheme_credit(rate, prices.hourly(start), taxes.gross)
    return PriceBreakdown(
        start=start,
        minutes=supply.settlement_minutes,
        tariff_id=tariff.id,
        band=energy.band,
        vat=taxes.vat,
        spot=spot_price,
        supply=supply.energy_price(spot_price) * taxes.gross,
        grid_energy=energy.price * taxes.gross,
        elavgift=taxes.elavgift * taxes.gross,
        enova=taxes.enova * taxes.gross,
        stromstotte=-credit if installation.scheme is Scheme.STROMSTOTTE else ZERO,
        norgespris=-credit if installation.scheme is Scheme.NORGESPRIS else ZERO,
    )


def prices_ahead(
    installation: Installation,
    start: datetime,
    spot: SpotPrices,
    *,
    month_kwh: Number = 0,
    limit: int = 48 * 4,
) -> list[PriceBreakdown]:
    """Return the price of each coming settlement interval that spot prices exist for."""
    step = timedelta(minutes=installation.supply.settlement_minutes)
    moment = floor_interval(start, installation.supply.settlement_minutes)
    found: list[PriceBreakdown] = []
    while len(found) < limit:
        try:
            found.append(price_at(installation, moment, spot, month_kwh=month_kwh))
        except MissingPriceError:
            break
        moment += step
    return found
