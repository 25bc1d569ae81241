"""State schemes settled on the grid invoice: strømstøtte and Norgespris.

Both are settled hour by hour on the area spot price (the mean of the four
quarter-hour prices since 1 Oct 2025), gross of VAT in the customer's zone,
and only for the first kWh of each month up to a cap, counted in time order.
They exclude each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from functools import cache
import json

from .errors import TariffDataError
from .exact import ZERO
from .resources import data_text
from .timeline import Reader, Timeline, parse_number, read_timeline


class Scheme(StrEnum):
    """The scheme a metering point is in."""

    STROMSTOTTE = "stromstotte"
    NORGESPRIS = "norgespris"
    NONE = "none"


class Dwelling(StrEnum):
    """What the metering point supplies; the caps and eligibility differ."""

    HOUSEHOLD = "household"
    CABIN = "cabin"


@dataclass(frozen=True, slots=True)
class SchemeRate:
    """One period of a scheme.

    ``price`` is the strømstøtte threshold or the Norgespris reference price,
    NOK/kWh ex VAT; ``share`` is the part of the excess that is covered (1 for
    Norgespris, which is a two-way hedge); ``caps`` are kWh per month.
    """

    price: Fraction
    share: Fraction
    two_way: bool
    caps: dict[Dwelling, Fraction]

    def cap(self, dwelling: Dwelling) -> Fraction:
        """Return the monthly cap, or raise if the dwelling is not eligible."""
        try:
            return self.caps[dwelling]
        except KeyError:
            raise TariffDataError(
                f"a {dwelling} metering point is not eligible for this scheme"
            ) from None

    def per_kwh(self, spot: Fraction, gross: Fraction) -> Fraction:
        """Return the credit per eligible kWh, incl VAT; negative means the customer pays.

        Strømstøtte pays ``share × (spot − threshold)`` only above the
        threshold; Norgespris settles ``spot − 0.40`` both ways.
        """
        excess = spot - self.price
        if not self.two_way and excess < 0:
            return ZERO
        return self.share * excess * gross


def _stromstotte(reader: Reader) -> SchemeRate:
    return SchemeRate(
        price=reader.number("threshold"),
        share=_share(reader),
        two_way=False,
        caps=_caps(reader),
    )


def _norgespris(reader: Reader) -> SchemeRate:
    return SchemeRate(
        price=reader.number("reference"),
        share=Fraction(1),
        two_way=True,
        caps=_caps(reader),
    )


def _share(reader: Reader) -> Fraction:
    share = reader.number("share")
    if not 0 < share <= 1:
        raise TariffDataError(f"{reader.where}.share: {share} is not a fraction")
    return share


def _caps(reader: Reader) -> dict[Dwelling, Fraction]:
    raw = reader.mapping("cap_kwh")
    caps: dict[Dwelling, Fraction] = {}
    for key, value in raw.items():
        try:
            dwelling = Dwelling(key)
        except ValueError:
            raise TariffDataError(
                f"{reader.where}.cap_kwh: unknown dwelling {key!r}"
            ) from None
        caps[dwelling] = parse_number(f"{reader.where}.cap_kwh.{key}", value)
    if not caps:
        raise TariffDataError(f"{reader.where}.cap_kwh: no cap")
    return caps


class SchemeRegime:
    """The scheme timelines, read from ``data/schemes.json``."""

    def __init__(self, raw: object) -> None:
        """Validate the file."""
        top = Reader("schemes", raw, ("stromstotte", "norgespris"))
        self.timelines: dict[Scheme, Timeline[SchemeRate]] = {
            Scheme.STROMSTOTTE: read_timeline(
                "strømstøtte",
                "schemes.stromstotte",
                top.items("stromstotte"),
                ("threshold", "share", "cap_kwh"),
                _stromstotte,
            ),
            Scheme.NORGESPRIS: read_timeline(
                "Norgespris",
                "schemes.norgespris",
                top.items("norgespris"),
                ("reference", "cap_kwh"),
                _norgespris,
            ),
        }


@cache
def scheme_regime() -> SchemeRegime:
    """Return the shipped schemes (read once)."""
    return SchemeRegime(json.loads(data_text("schemes.json")))


class CapCounter:
    """The month's running kWh for a scheme cap, counted in time order.

    The hour that crosses the cap is split: only the part up to the cap is
    eligible, the rest of that hour and every later hour get nothing.
    """

    def __init__(self, used: Fraction = ZERO) -> None:
        """Start from the kWh already counted this month."""
        self.used = used

    def take(self, kwh: Fraction, cap: Fraction) -> Fraction:
        """Count ``kwh`` and return how much of it is still under ``cap``."""
        eligible = max(ZERO, min(kwh, cap - self.used))
        self.used += kwh
        return eligible
