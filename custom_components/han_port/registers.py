"""The meter's cumulative energy registers: clock, plausibility guard, hourly split.

No Home Assistant import. Norwegian meters push the registers once an hour
(List 3) with the meter clock at the hour boundary; P1 meters push them in
every telegram. A register that is lower than before, zero, a resent hour,
stamped with a clock in the future or more energy than the main fuse lets
through would corrupt the Energy dashboard and a month's capacity step, so
every reading passes the guard first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from .han.model import ENERGY_QUANTITIES, Quantity

HOUR: Final = timedelta(hours=1)
NOMINAL_VOLTAGE: Final = 240.0  # a generous upper bound of the phase voltage
PHASES: Final = 3
# Registers are stated to 1 Wh (some meters to 10 Wh or whole kWh); a reading
# one unit above the fuse limit is rounding, not a glitch.
TOLERANCE_WH: Final = 1000.0
REBASELINE_AFTER: Final = 3
# A register cannot be read in the future. A meter clock further ahead of the
# reading's arrival than this is set wrong or glitched: taken as stated it
# would book energy in hours still to come, then reject every reading until
# real time caught up, and put all of their energy in one hour.
MAX_CLOCK_AHEAD: Final = timedelta(hours=3)

ACTIVE_REGISTERS: Final = (Quantity.ACTIVE_ENERGY_IMPORT, Quantity.ACTIVE_ENERGY_EXPORT)
STATISTIC_REGISTERS: Final = ACTIVE_REGISTERS


def resolve_meter_clock(
    stated: datetime, received: datetime, zone: ZoneInfo
) -> datetime:
    """Return the instant a meter clock means, as an aware UTC datetime.

    Kaifa and Kamstrup leave out the UTC deviation (naive wall time); Aidon
    writes deviation 0 although the clock shows Norwegian wall time. Each
    reading is taken as stated and as local wall time (both folds, for the
    repeated hour in October), and the one closest to the time the telegram
    arrived wins. A meter set wrong keeps its own hours; only the choice
    between meanings uses the arrival time.
    """
    wall = stated.replace(tzinfo=None)
    candidates = [wall.replace(tzinfo=zone, fold=fold) for fold in (0, 1)]
    if stated.tzinfo is not None:
        candidates.append(stated)
    return min(
        (candidate.astimezone(UTC) for candidate in candidates),
        key=lambda candidate: abs(candidate - received),
    )


def hour_boundary(instant: datetime, zone: ZoneInfo) -> datetime:
    """Return the local hour boundary at or before ``instant`` (aware, UTC)."""
    local = instant.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


class Rejection(StrEnum):
    """Why a register reading was not accepted."""

    DECREASED = "decreased"
    ZERO = "zero"
    REPEATED = "repeated"
    IMPLAUSIBLE = "implausible"
    FUTURE = "future"


@dataclass(frozen=True, slots=True)
class RegisterReading:
    """The cumulative registers (Wh, varh) at one meter clock."""

    clock: datetime  # resolved, aware UTC
    stated: str  # the clock as the meter wrote it, to spot a resent hour
    values: dict[Quantity, float]

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form for storage."""
        return {
            "clock": self.clock.isoformat(),
            "stated": self.stated,
            "values": {str(quantity): value for quantity, value in self.values.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegisterReading:
        """Rebuild a reading saved with ``as_dict``."""
        return cls(
            clock=datetime.fromisoformat(data["clock"]),
            stated=data["stated"],
            values={
                Quantity(key): float(value) for key, value in data["values"].items()
            },
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guard's answer for one reading."""

    accepted: bool
    reason: Rejection | None = None
    detail: str = ""
    rebaselined: bool = False


@dataclass(slots=True)
class RegisterGuard:
    """Accepts a register reading only when it can be true.

    ``main_fuse`` in amperes bounds the energy between two readings: three
    phases at 240 V for the time the meter clocks say has passed. After
    ``REBASELINE_AFTER`` consecutive readings that are all lower than the last
    accepted one but consistent among themselves, the meter was reset or
    replaced, and the newest becomes the reference.
    """

    main_fuse: float
    last: RegisterReading | None = None
    rejected: dict[Rejection, int] = field(
        default_factory=lambda: dict.fromkeys(Rejection, 0)
    )
    accepted: int = 0
    _lower_run: list[RegisterReading] = field(default_factory=list)

    def check(
        self, reading: RegisterReading, received: datetime | None = None
    ) -> Verdict:
        """Judge ``reading``, which arrived at ``received``; if accepted it is the reference."""
        verdict = self._judge(reading, received)
        if verdict.accepted:
            self.accepted += 1
            self.last = reading
            self._lower_run.clear()
            return verdict
        assert verdict.reason is not None
        self.rejected[verdict.reason] += 1
        if verdict.reason is Rejection.DECREASED and self._consistent_run(reading):
            self.last = reading
            self._lower_run.clear()
            return Verdict(True, rebaselined=True, detail=verdict.detail)
        if verdict.reason is not Rejection.DECREASED:
            self._lower_run.clear()
        return verdict

    def _judge(
        self, reading: RegisterReading, received: datetime | None = None
    ) -> Verdict:
        if received is not None and reading.clock - received > MAX_CLOCK_AHEAD:
            return Verdict(
                False,
                Rejection.FUTURE,
                f"meter clock {reading.stated} is "
                f"{(reading.clock - received) / HOUR:.1f} h ahead of the time it "
                f"arrived, {received.isoformat(timespec='seconds')}",
            )
        values = reading.values
        if values.get(Quantity.ACTIVE_ENERGY_IMPORT) == 0:
            return Verdict(False, Rejection.ZERO, "active energy import is 0")
        last = self.last
        if last is None:
            return Verdict(True)
        if reading.stated == last.stated or reading.clock <= last.clock:
            return Verdict(
                False,
                Rejection.REPEATED,
                f"meter clock {reading.stated} is not after {last.stated}",
            )
        for quantity, value in values.items():
            before = last.values.get(quantity)
            if before is None:
                continue
            if value == 0 and before > 0:
                return Verdict(False, Rejection.ZERO, f"{quantity} is 0")
            if value < before:
                return Verdict(
                    False,
                    Rejection.DECREASED,
                    f"{quantity} went from {before:g} to {value:g}",
                )
        hours = (reading.clock - last.clock) / HOUR
        limit = self.main_fuse * NOMINAL_VOLTAGE * PHASES * hours + TOLERANCE_WH
        for quantity in ACTIVE_REGISTERS:
            if quantity in values and quantity in last.values:
                delta = values[quantity] - last.values[quantity]
                if delta > limit:
                    return Verdict(
                        False,
                        Rejection.IMPLAUSIBLE,
                        f"{quantity} rose {delta:g} Wh in {hours:.2f} h, more than a "
                        f"{self.main_fuse:g} A main fuse allows",
                    )
        return Verdict(True)

    def _consistent_run(self, reading: RegisterReading) -> bool:
        run = self._lower_run
        if run:
            probe = RegisterGuard(self.main_fuse, last=run[-1])
            if not probe._judge(reading).accepted:
                run.clear()
        run.append(reading)
        return len(run) >= REBASELINE_AFTER


_TARIFF_REGISTERS: Final = {
    Quantity.ACTIVE_ENERGY_IMPORT: tuple(
        Quantity(f"active_energy_import_t{tariff}") for tariff in range(1, 5)
    ),
    Quantity.ACTIVE_ENERGY_EXPORT: tuple(
        Quantity(f"active_energy_export_t{tariff}") for tariff in range(1, 5)
    ),
}


def energy_registers(values: dict[Quantity, Any]) -> dict[Quantity, float]:
    """Return the cumulative energy registers among decoded values.

    Dutch and Belgian P1 meters send only per-tariff registers (1.8.1, 1.8.2);
    their sum is the total the statistics and the Energy dashboard need.
    """
    if ENERGY_QUANTITIES.isdisjoint(values):
        return {}  # List 1 and 2: no register, and they come every few seconds
    registers = {
        quantity: float(value)
        for quantity, value in values.items()
        if quantity in ENERGY_QUANTITIES and isinstance(value, (int, float))
    }
    for total, parts in _TARIFF_REGISTERS.items():
        if total not in registers and any(part in registers for part in parts):
            registers[total] = sum(registers.get(part, 0.0) for part in parts)
    return registers


def spread(
    start: datetime, end: datetime, before: float, after: float
) -> list[tuple[datetime, float]]:
    """Split the energy between two hour boundaries evenly over the hours between.

    Returns (hour start, energy) per hour. When Home Assistant was down for a
    few hours, the register difference is all that is known; putting it all in
    the hour the next reading came would draw a spike in the Energy dashboard.
    Whole units are kept where the difference is whole, and the parts always
    add up to the difference exactly.
    """
    hours = round((end - start) / HOUR)
    if hours <= 0:
        return []
    delta = after - before
    rows: list[tuple[datetime, float]] = []
    done = 0.0
    for index in range(1, hours + 1):
        if delta == int(delta):
            cumulative = float(int(delta) * index // hours)
        else:
            cumulative = delta * index / hours
        rows.append((start + (index - 1) * HOUR, cumulative - done))
        done = cumulative
    return rows
