"""Taxes collected with the grid rent: elavgift, the Enova fee and VAT, by tax zone.

The zone follows county borders, not price areas: Nordland and Troms pay no
VAT on electricity, and the tiltakssone (Finnmark and seven Nord-Troms
municipalities) pays neither VAT nor elavgift. The Enova fee is paid everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from functools import cache
import json

from .errors import TariffDataError
from .exact import ZERO
from .resources import data_text
from .timeline import Provenance, Reader, Timeline, read_provenance, read_timeline


class TaxZone(StrEnum):
    """The three household tax zones."""

    STANDARD = "standard"
    NORD_NORGE = "nord_norge"
    TILTAKSSONE = "tiltakssone"


@dataclass(frozen=True, slots=True)
class Taxes:
    """Rates for one zone on one day; per-kWh figures are NOK ex VAT."""

    vat: Fraction
    elavgift: Fraction
    enova: Fraction
    notes: tuple[str, ...] = ()

    @property
    def gross(self) -> Fraction:
        """Return the factor that adds VAT (1.25 or 1)."""
        return 1 + self.vat


@dataclass(frozen=True, slots=True)
class _Zone:
    vat: Timeline[Fraction]
    elavgift: bool
    provenance: Provenance


class TaxRegime:
    """The Norwegian tax timelines, read from ``data/taxes.json``."""

    def __init__(self, raw: object) -> None:
        """Validate the file; every rate needs a period and a source."""
        top = Reader("taxes", raw, ("country", "zones", "elavgift", "enova"))
        if top.text("country") != "NO":
            raise TariffDataError("taxes: only the Norwegian regime is modelled")
        self.elavgift = read_timeline(
            "elavgift", "taxes.elavgift", top.items("elavgift"), ("value",), _rate
        )
        self.enova = read_timeline(
            "Enova fee", "taxes.enova", top.items("enova"), ("value",), _rate
        )
        zones = top.mapping("zones")
        if set(zones) != set(TaxZone):
            raise TariffDataError(f"taxes.zones: expected exactly {sorted(TaxZone)}")
        self._zones: dict[TaxZone, _Zone] = {}
        for zone in TaxZone:
            reader = Reader(
                f"taxes.zones.{zone}",
                zones[zone],
                ("vat", "elavgift", "source", "uncertain", "note"),
            )
            vat = read_timeline(
                f"VAT ({zone})",
                f"taxes.zones.{zone}.vat",
                reader.items("vat"),
                ("value",),
                _rate,
            )
            self._zones[zone] = _Zone(
                vat, reader.flag("elavgift"), read_provenance(reader)
            )

    def at(self, zone: TaxZone, day: date) -> Taxes:
        """Return the rates of ``zone`` on ``day``; a day past the newest rate raises."""
        spec = self._zones[TaxZone(zone)]
        vat = spec.vat.at(day)
        enova = self.enova.at(day)
        notes = spec.vat.notes(vat) + self.enova.notes(enova)
        elavgift = ZERO
        if spec.elavgift:
            entry = self.elavgift.at(day)
            elavgift = entry.value
            notes += self.elavgift.notes(entry)
        return Taxes(vat=vat.value, elavgift=elavgift, enova=enova.value, notes=notes)


def _rate(reader: Reader) -> Fraction:
    value = reader.number("value")
    if not 0 <= value < 1:
        raise TariffDataError(
            f"{reader.where}.value: {value} is not a plausible NOK/kWh or VAT rate"
        )
    return value


@cache
def tax_regime() -> TaxRegime:
    """Return the shipped tax regime (read once)."""
    return TaxRegime(json.loads(data_text("taxes.json")))


def grid_price_ex_taxes(price: Fraction, zone: TaxZone, day: date) -> Fraction:
    """Turn an energiledd quoted incl VAT and taxes into the stored ex-VAT, ex-tax price.

    Companies publish in five conventions; a user typing the price from a
    price sheet "incl. avgifter" needs this before building a custom tariff.
    """
    taxes = tax_regime().at(zone, day)
    return price / taxes.gross - taxes.elavgift - taxes.enova


def ex_vat(amount: Fraction, zone: TaxZone, day: date) -> Fraction:
    """Remove the zone's VAT from an amount (a capacity step quoted incl VAT)."""
    return amount / tax_regime().at(zone, day).gross
