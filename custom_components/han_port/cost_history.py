"""The hours before the month that a rolling capacity method counts.

Fjellnett's capacity value is the mean of the five highest weighted weekly
peaks over the 12 months up to the billed month, so the months before the
current one matter. :class:`HourHistory` keeps their hourly import energy,
only as far back as the engine's window (the months before the current one
that the method counts: 11 of Fjellnett's 12), and saves it compactly: the
first hour and one entry a clock hour (``None`` for an hour not known).
Installations whose capacity method looks at the month alone keep nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, Final

from .tariff import Installation, Month, Reading, TariffError

_HOUR: Final = timedelta(hours=1)


def window_start(installation: Installation, month: Month) -> datetime | None:
    """Return where the month's capacity window starts, ``None`` for the month alone.

    A tariff the engine cannot give for the month counts as needing no history.
    """
    try:
        part = installation.company.tariff_at(month.first_day).capacity
    except TariffError:
        return None
    if part.window_months <= 1:
        return None
    return month.minus(part.window_months - 1).start


class HourHistory:
    """Hourly import energy (kWh) of the months before the current one."""

    def __init__(self, hours: Mapping[datetime, Fraction] | None = None) -> None:
        """Start with the given hours (UTC starts)."""
        self.hours: dict[datetime, Fraction] = dict(hours or {})
        self._counted: tuple[Installation, Month, list[Reading]] | None = None

    def __len__(self) -> int:
        """Return how many hours are known."""
        return len(self.hours)

    def add(self, hours: Iterable[tuple[datetime, Fraction]]) -> None:
        """Record hours (start, kWh); a known hour takes the new value."""
        self._counted = None
        for start, kwh in hours:
            self.hours[start.astimezone(UTC)] = kwh

    def fill(self, hours: Iterable[tuple[datetime, Fraction]]) -> int:
        """Record only the hours not known yet; return how many were added."""
        self._counted = None
        added = 0
        for start, kwh in hours:
            moment = start.astimezone(UTC)
            if moment not in self.hours:
                self.hours[moment] = kwh
                added += 1
        return added

    def prune(self, since: datetime | None, until: datetime) -> None:
        """Keep only the hours from ``since`` to ``until``; none when ``since`` is ``None``."""
        self._counted = None
        self.hours = (
            {}
            if since is None
            else {
                start: kwh
                for start, kwh in self.hours.items()
                if since <= start < until
            }
        )

    def counted(self, installation: Installation, month: Month) -> list[Reading]:
        """Return the hours before ``month`` that can count for its capacity value.

        Only the highest hour of each day (week) can, so the engine's tracker
        picks them once and they are kept until the hours change: pricing the
        month again then takes a few dozen readings, not a year of them.
        """
        since = window_start(installation, month)
        if since is None:
            return []
        cached = self._counted
        if cached is None or cached[0] is not installation or cached[1] != month:
            tracker = installation.capacity_tracker(month)
            tracker.add_all(
                (start, kwh)
                for start, kwh in sorted(self.hours.items())
                if since <= start < month.start
            )
            readings = [Reading.of(peak.start, peak.kwh) for peak in tracker.maxima]
            cached = self._counted = (installation, month, readings)
        return cached[2]

    # Storage ---------------------------------------------------------------

    def stored(self) -> dict[str, Any] | None:
        """Return the hours as saved: the first hour and one entry an hour."""
        if not self.hours:
            return None
        first = min(self.hours)
        count = int((max(self.hours) - first) / _HOUR) + 1
        kwh: list[str | None] = [None] * count
        for start, energy in self.hours.items():
            kwh[int((start - first) / _HOUR)] = str(energy)
        return {"start": first.isoformat(), "kwh": kwh}

    @classmethod
    def restore(cls, stored: Mapping[str, Any] | None) -> HourHistory:
        """Return the history a store saved; none before the history was kept."""
        if not stored:
            return cls()
        first = datetime.fromisoformat(stored["start"]).astimezone(UTC)
        return cls(
            {
                first + index * _HOUR: Fraction(energy)
                for index, energy in enumerate(stored["kwh"])
                if energy is not None
            }
        )
