"""The live capacity value of a month: peaks, step, price and the power headroom.

Fed with each completed metering interval (energy from the meter's own
registers), it keeps the highest interval of each day (or week, for the
rolling method) and derives the value, the step and the charge. The headroom
answers the load-shedding question: how much may still be drawn this interval
without raising the month's value, or, laxer, without reaching the next step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from .capacity import CapacityMethod, CapacityPart, Step
from .clock import Month, as_hours, check_interval_minutes, floor_interval, local, utc
from .exact import ZERO, Number, exact, rounded


@dataclass(frozen=True, slots=True)
class Peak:
    """The highest interval of a day (or week) that counts for the capacity value."""

    start: datetime
    kwh: Fraction
    kw: Fraction
    bucket: date

    @property
    def local_start(self) -> datetime:
        """Return the interval start on the Oslo wall clock."""
        return local(self.start)


@dataclass(frozen=True, slots=True)
class Headroom:
    """How much can still be drawn in the current interval without raising the value.

    ``watts`` is the average power for the rest of the interval that makes the
    interval end exactly at ``threshold_kwh``; 0 when that is already passed.
    It is the total draw, not the draw on top of the present power.
    """

    interval_start: datetime
    interval_end: datetime
    threshold_kwh: Fraction
    energy_kwh: Fraction
    watts: Fraction


class CapacityTracker:
    """The month's capacity value, step and price as intervals complete, and the headroom.

    Feed it every completed metering interval (energy from the meter's own
    registers); for the rolling method also the intervals of the window before
    the month. Prices come out incl VAT at ``vat``.
    """

    def __init__(
        self,
        part: CapacityPart,
        month: Month,
        *,
        vat: Fraction,
        fuse: str | None = None,
        interval_minutes: int | None = None,
    ) -> None:
        """Set up an empty month; a fuse tariff needs its row chosen now."""
        self.part = part
        self.month = month
        self.vat = vat
        self.minutes = check_interval_minutes(interval_minutes or part.interval_minutes)
        self.fuse = part.fuse_row(fuse) if part.method is CapacityMethod.FUSE else None
        self.window_start = month.minus(part.window_months - 1).start
        self._maxima: dict[date, Peak] = {}
        self._seen: set[datetime] = set()
        # The running interval's limit, per "to the next step": asked for every
        # few seconds, it changes only with the interval or when one is added.
        self._limits: dict[
            bool, tuple[datetime, datetime, tuple[datetime, datetime, Fraction] | None]
        ] = {}

    # --- feeding ------------------------------------------------------------------

    @property
    def interval(self) -> timedelta:
        """Return the metering interval."""
        return timedelta(minutes=self.minutes)

    def _check(self, start: datetime) -> datetime:
        moment = utc(start)
        if floor_interval(moment, self.minutes) != moment:
            raise ValueError(
                f"{start.isoformat()} is not the start of a {self.minutes}-minute interval"
            )
        if not self.window_start <= moment < self.month.end:
            raise ValueError(
                f"{start.isoformat()} is outside the capacity window of {self.month}"
            )
        return moment

    def _bucket(self, moment: datetime) -> date:
        day = local(moment).date()
        if self.part.method is CapacityMethod.WEIGHTED_WEEKLY_ROLLING:
            return day - timedelta(days=day.weekday())
        return day

    def _weight(self, moment: datetime) -> Fraction:
        if self.part.method is CapacityMethod.WEIGHTED_WEEKLY_ROLLING:
            return self.part.month_weights[local(moment).month - 1]
        return Fraction(1)

    def add(self, start: datetime, kwh: Number) -> None:
        """Record a completed metering interval."""
        moment = self._check(start)
        if moment in self._seen:
            raise ValueError(f"interval {start.isoformat()} was already counted")
        self._seen.add(moment)
        self._limits.clear()
        energy = exact(kwh)
        if energy < 0:
            raise ValueError("consumption cannot be negative")
        kw = energy / as_hours(self.interval) * self._weight(moment)
        bucket = self._bucket(moment)
        best = self._maxima.get(bucket)
        if best is None or kw > best.kw:
            self._maxima[bucket] = Peak(moment, energy, kw, bucket)

    def add_all(self, intervals: Iterable[tuple[datetime, Number]]) -> None:
        """Record several completed intervals."""
        for start, kwh in intervals:
            self.add(start, kwh)

    # --- the month's value --------------------------------------------------------

    @property
    def measured(self) -> bool:
        """Say whether the method measures anything (a fuse tariff does not)."""
        return self.fuse is None

    @property
    def maxima(self) -> tuple[Peak, ...]:
        """Return the highest interval of each day (week) seen, in time order.

        Only these can still count, so they stand for every interval fed: a
        tracker fed them instead gives the same value, peaks and headroom.
        """
        return tuple(sorted(self._maxima.values(), key=lambda peak: peak.start))

    @property
    def peaks(self) -> tuple[Peak, ...]:
        """Return the peaks that make up the value, highest first."""
        ranked = sorted(self._maxima.values(), key=lambda peak: (-peak.kw, peak.start))
        return tuple(ranked[: self.part.n])

    @property
    def capacity_kw(self) -> Fraction:
        """Return the capacity value so far: the mean of the peaks counted.

        Before N days have data it is the mean of those there are, the best
        estimate of where the month will end. The rolling method rounds to the
        company's decimals, as its invoice does.
        """
        peaks = self.peaks
        if not peaks:
            return ZERO
        value = sum((peak.kw for peak in peaks), ZERO) / len(peaks)
        if self.part.value_decimals is not None:
            return Fraction(rounded(value, self.part.value_decimals))
        return value

    @property
    def step(self) -> Step | None:
        """Return the step of the current value, ``None`` for methods without steps."""
        if not self.part.steps:
            return None
        return self.part.step_for(self.capacity_kw)

    @property
    def kw_to_next_step(self) -> Fraction | None:
        """Return the kW left before the next step, ``None`` on the top step or without steps."""
        step = self.step
        if step is None or step.to_kw is None:
            return None
        return step.to_kw - self.capacity_kw

    @property
    def monthly_price_ex_vat(self) -> Fraction:
        """Return the month's capacity charge ex VAT at the current value."""
        part = self.part
        if self.fuse is not None:
            return self.fuse.price / part.months_per_unit
        step = self.step
        if step is not None:
            return part.monthly_price(step, self.month.first_day)
        return (part.base_fee + part.per_kw * self.capacity_kw) / part.months_per_unit

    @property
    def monthly_price(self) -> Fraction:
        """Return the month's capacity charge incl VAT at the current value."""
        return self.monthly_price_ex_vat * (1 + self.vat)

    # --- headroom -----------------------------------------------------------------

    def headroom(self, now: datetime, energy_so_far: Number) -> Headroom | None:
        """Return the power that can still be drawn this interval without raising the value.

        ``energy_so_far`` is the energy of the running interval up to ``now``.
        The interval's energy becomes a candidate for its day's (week's)
        maximum; the threshold is the largest interval energy that leaves the
        mean of the top N unchanged. ``None`` for a fuse tariff, which has no
        measured value.
        """
        return self._headroom(now, energy_so_far, to_step=False)

    def step_headroom(self, now: datetime, energy_so_far: Number) -> Headroom | None:
        """Return the power that can still be drawn this interval without a higher step.

        Laxer than ``headroom``: the value may rise as long as it stays in its
        step, which is what the bill feels. Early in a month, when every hour
        above the mean raises the value, this is the figure to shed load on.
        ``None`` on the top step and for tariffs without steps.
        """
        return self._headroom(now, energy_so_far, to_step=True)

    def limit(
        self, now: datetime, *, to_step: bool = False
    ) -> tuple[datetime, datetime, Fraction] | None:
        """Return the running interval (start, end) and the energy it may reach.

        What ``headroom`` and ``step_headroom`` are made of, for callers that
        ask every few seconds: it changes only when an interval is added, so
        it is kept until then. ``None`` where those return ``None``.
        """
        if not self.measured:
            return None
        known = self._limits.get(to_step)
        if known is None or now.tzinfo is None or not known[0] <= now < known[1]:
            start = self._check(floor_interval(now, self.minutes))
            end = start + self.interval
            threshold = self._threshold(start, to_step)
            found = None if threshold is None else (start, end, threshold)
            known = self._limits[to_step] = (start, end, found)
        return known[2]

    def _headroom(
        self, now: datetime, energy_so_far: Number, *, to_step: bool
    ) -> Headroom | None:
        found = self.limit(now, to_step=to_step)
        if found is None:
            return None
        start, end, threshold = found
        energy = exact(energy_so_far)
        remaining = as_hours(end - utc(now))
        watts = max(ZERO, threshold - energy) / remaining * 1000
        return Headroom(start, end, threshold, energy, watts)

    def _step_ceiling(self) -> Fraction | None:
        """Return the value that reaches the next step; ``None`` on the top step."""
        step = self.step
        if step is None or step.to_kw is None:
            return None
        boundary = step.to_kw
        if (places := self.part.value_decimals) is not None:
            # The invoice rounds the value: half a unit below (or above, for
            # "til og med" steps) the boundary already rounds onto it.
            half = Fraction(1, 2 * 10**places)
            boundary += -half if self.part.threshold_inclusive else half
        return boundary

    def _threshold(self, start: datetime, to_step: bool) -> Fraction | None:
        """Return the energy interval ``start`` may reach with the mean of the top N at the ceiling."""
        bucket = self._bucket(start)
        current = self._maxima.get(bucket)
        others = sorted(
            (peak.kw for key, peak in self._maxima.items() if key != bucket),
            reverse=True,
        )
        n = self.part.n
        if to_step:
            ceiling_kw = self._step_ceiling()
            if ceiling_kw is None:
                return None
        else:
            counted = [*others, current.kw] if current is not None else others
            top = sorted(counted, reverse=True)[:n]
            ceiling_kw = sum(top, ZERO) / len(top) if top else ZERO
        if len(others) >= n:
            bound = n * ceiling_kw - sum(others[: n - 1], ZERO)
        else:
            bound = (len(others) + 1) * ceiling_kw - sum(others, ZERO)
        limit_kw = max(bound, current.kw if current is not None else ZERO)
        return limit_kw / self._weight(start) * as_hours(self.interval)
