"""Energy this hour so far, between the meter's hourly registers.

No Home Assistant import. List 1 power arrives every few seconds; the energy
registers only once an hour. Integrating the power gives a smooth value for
the running hour that starts again from zero at each hour boundary, so it never
jumps when the register for the hour arrives. The finished hour's integral is
then replaced by the register difference, which is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from .registers import HOUR, hour_boundary

# Power is held for at most this long between samples; after a longer gap the
# connection was down and nothing is known about the energy in between.
MAX_HOLD: Final = timedelta(seconds=60)
_MAX_HOLD_SECONDS: Final = MAX_HOLD.total_seconds()


@dataclass(slots=True)
class LiveHour:
    """Integrates import power over the running local hour (Wh)."""

    zone: ZoneInfo
    hour_start: datetime | None = None
    energy_wh: float = 0.0
    power_w: float | None = None
    last_sample: datetime | None = None
    last_hour_wh: float | None = None
    last_hour_start: datetime | None = None
    last_hour_exact: bool = False
    # The running hour and the last sample as timestamps, for the common case
    # of a sample a few seconds after the last one in the same hour.
    _begin: float = 0.0
    _end: float = 0.0
    _last: float = 0.0

    def add_power(self, when: datetime, watts: float, at: float | None = None) -> None:
        """Add a power sample taken at ``when`` (aware; ``at``: its timestamp)."""
        if at is None:
            at = when.timestamp()
        last = self._last
        power = self.power_w
        if (
            power is not None
            and self.last_sample is not None
            and self._begin <= last <= at < self._end
            and at - last <= _MAX_HOLD_SECONDS
        ):
            self.energy_wh += power * (at - last) / 3600.0
        else:
            self._integrate_to(when)
        self.power_w = watts
        self.last_sample = when
        self._last = at

    def advance(self, when: datetime) -> None:
        """Move the clock on without a new sample, e.g. to close the hour."""
        self._integrate_to(when)

    def stop(self) -> None:
        """Forget the held power: the data stopped."""
        self.power_w = None
        self.last_sample = None

    def register_hour(self, start: datetime, energy_wh: float) -> None:
        """Replace the integral of the finished hour ``start`` with the register's."""
        self.last_hour_start = start
        self.last_hour_wh = energy_wh
        self.last_hour_exact = True

    def projected_wh(self, when: datetime) -> float | None:
        """Return the energy the hour ends at if the present power holds."""
        if self.hour_start is None or self.power_w is None:
            return None
        self._integrate_to(when)
        remaining = self._end - when.timestamp()
        return self.energy_wh + self.power_w * max(remaining, 0.0) / 3600.0

    def _integrate_to(self, when: datetime) -> None:
        start = self.hour_start
        if start is not None and start <= when < start + HOUR:
            boundary = start  # nearly always: the zone need not be asked
        else:
            boundary = hour_boundary(when, self.zone)
        if self.hour_start is None:
            self.hour_start = boundary
            self._mirror_hour()
        if self.last_sample is not None and self.power_w is not None:
            begin = self.last_sample
            if when - begin > MAX_HOLD:
                begin = when - MAX_HOLD
            while begin < when:
                hour_end = self.hour_start + HOUR
                if begin >= hour_end:  # the gap skipped whole hours
                    self._close_hour(hour_boundary(begin, self.zone))
                    continue
                stop = min(when, hour_end)
                self.energy_wh += self.power_w * (stop - begin).total_seconds() / 3600.0
                begin = stop
                if stop >= hour_end:
                    self._close_hour(hour_end)
            self.last_sample = when
            self._last = when.timestamp()
        if boundary > self.hour_start:
            self._close_hour(boundary)

    def _close_hour(self, next_start: datetime) -> None:
        if self.hour_start is not None and next_start > self.hour_start:
            # The register may already have given this hour (P1 meters send it
            # with the first telegram after the boundary): keep the exact value.
            exact = self.last_hour_exact and self.last_hour_start == self.hour_start
            if next_start - self.hour_start == HOUR and not exact:
                self.last_hour_start = self.hour_start
                self.last_hour_wh = self.energy_wh
                self.last_hour_exact = False
            self.hour_start = next_start
            self._mirror_hour()
            self.energy_wh = 0.0

    def _mirror_hour(self) -> None:
        assert self.hour_start is not None
        self._begin = self.hour_start.timestamp()
        self._end = self._begin + 3600.0
