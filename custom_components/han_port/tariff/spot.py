"""Spot prices and the supply contract.

Day-ahead prices have been quarter-hourly since delivery day 1 Oct 2025, but
Norwegian households are still settled per hour at the mean of the four
quarters; strømstøtte and Norgespris use that hourly mean too. A series may mix
both resolutions (hourly before the switch, quarters after).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
import itertools

from .clock import HOUR, MINUTE, QUARTER, check_interval_minutes, floor_interval, utc
from .errors import MissingPriceError
from .exact import ZERO, Number, exact


@dataclass(frozen=True, slots=True)
class SpotPoint:
    """One published price, NOK/kWh ex VAT, for ``minutes`` from ``start``."""

    start: datetime
    minutes: int
    price: Fraction


class SpotPrices:
    """A price series of 15- and/or 60-minute points, looked up by settlement interval."""

    def __init__(self, points: Iterable[SpotPoint]) -> None:
        """Index the points; misaligned or overlapping points are refused."""
        self._points: dict[datetime, SpotPoint] = {}
        covered: dict[datetime, int] = {}
        for point in points:
            start = utc(point.start)
            check_interval_minutes(point.minutes)
            if floor_interval(start, point.minutes) != start:
                raise ValueError(
                    f"spot price at {start.isoformat()} is not on a {point.minutes}-minute boundary"
                )
            hour = floor_interval(start, 60)
            if start in self._points or covered.get(hour, 0) + point.minutes > 60:
                raise ValueError(f"spot prices overlap at {start.isoformat()}")
            covered[hour] = covered.get(hour, 0) + point.minutes
            self._points[start] = SpotPoint(start, point.minutes, point.price)

    @classmethod
    def from_series(
        cls, pairs: Iterable[tuple[datetime, Number]], minutes: int | None = None
    ) -> SpotPrices:
        """Build from ``(start, price)`` pairs, inferring each point's length if not given.

        A point lasts until the next one when that is 15 or 60 minutes later;
        across a gap, or for the last point, it keeps its predecessor's length.
        """
        ordered = sorted((utc(start), exact(price)) for start, price in pairs)
        if minutes is not None:
            return cls(SpotPoint(start, minutes, price) for start, price in ordered)
        lengths: list[int | None] = []
        for (start, _), (following, _) in itertools.pairwise(ordered):
            gap = following - start
            lengths.append(int(gap / MINUTE) if gap in (QUARTER, HOUR) else None)
        lengths.append(None)
        known = [length for length in lengths if length is not None]
        if not known:
            raise ValueError(
                "cannot tell the resolution of these spot prices; give minutes"
            )
        # Across a gap, and for the last point, a point keeps its predecessor's
        # length (the first points take the first length seen).
        previous = known[0]
        points = []
        for (start, price), length in zip(ordered, lengths, strict=True):
            previous = length if length is not None else previous
            points.append(SpotPoint(start, previous, price))
        return cls(points)

    def __len__(self) -> int:
        """Return the number of points."""
        return len(self._points)

    def hourly(self, hour: datetime) -> Fraction:
        """Return the price of a clock hour: its hourly point or the mean of its four quarters."""
        start = floor_interval(hour, 60)
        point = self._points.get(start)
        if point is not None and point.minutes == 60:
            return point.price
        quarters = [
            self._points.get(start + timedelta(minutes=15 * index))
            for index in range(4)
        ]
        if any(quarter is None for quarter in quarters):
            raise MissingPriceError(
                f"no complete spot price for the hour from {start.isoformat()}"
            )
        return (
            sum((quarter.price for quarter in quarters if quarter is not None), ZERO)
            / 4
        )

    def at(self, instant: datetime) -> Fraction:
        """Return the price in force at an instant, at its published resolution."""
        for minutes in (15, 60):
            point = self._points.get(floor_interval(instant, minutes))
            if point is not None and point.minutes == minutes:
                return point.price
        raise MissingPriceError(f"no spot price at {utc(instant).isoformat()}")

    def settlement(self, start: datetime, minutes: int) -> Fraction:
        """Return the price of a settlement interval: the hourly mean, or the quarter's own price."""
        if minutes == 60:
            return self.hourly(start)
        return self.at(start)


@dataclass(frozen=True, slots=True)
class Supply:
    """The supplier contract: spot (or a fixed price) plus markup, and a monthly fee.

    All figures are ex VAT; VAT is added by tax zone. ``settlement_minutes``
    is 60 for Norwegian households today.
    """

    markup: Fraction = ZERO
    monthly_fee: Fraction = ZERO
    fixed_price: Fraction | None = None
    settlement_minutes: int = 60
    label: str = field(default="spot", compare=False)

    def __post_init__(self) -> None:
        """Check the settlement interval."""
        check_interval_minutes(self.settlement_minutes)

    @classmethod
    def spot(
        cls, markup: Number = 0, monthly_fee: Number = 0, settlement_minutes: int = 60
    ) -> Supply:
        """Return a spot contract (spot + markup per kWh, fee per month, all ex VAT)."""
        return cls(exact(markup), exact(monthly_fee), None, settlement_minutes, "spot")

    @classmethod
    def fixed(
        cls, price: Number, monthly_fee: Number = 0, markup: Number = 0
    ) -> Supply:
        """Return a fixed-price contract (NOK/kWh ex VAT)."""
        return cls(exact(markup), exact(monthly_fee), exact(price), 60, "fixed")

    @property
    def needs_spot(self) -> bool:
        """Say whether the contract price follows the spot price."""
        return self.fixed_price is None

    def energy_price(self, spot: Fraction | None) -> Fraction:
        """Return the contract price per kWh ex VAT for a settlement interval."""
        if self.fixed_price is not None:
            return self.fixed_price + self.markup
        if spot is None:
            raise MissingPriceError("a spot contract needs the spot price")
        return spot + self.markup
