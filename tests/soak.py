"""The soak: simulated weeks of a meter through the real integration, checked to the Wh.

A ``MeterSimulator`` household pushes its frames into a real pseudo-terminal
that a real ``han_port`` entry reads through serialx, in a real Home Assistant
with the recorder on an SQLite file. Home Assistant's clock (freezegun) is
moved to each frame's time before its bytes are written, so a month passes in
minutes. Along the way Home Assistant is stopped and started again three times
(a new instance on the same storage and database, as a restart is), the meter
line goes silent for five hours, one hourly List 3 is sent twice, and a
clock-change night passes. A Nord Pool-style price entity publishes 15-minute
spot prices every day.

At the end the recorded hourly statistics are compared with the simulator's
registers, the capacity peaks with those of the true hours, and the cost
statistic with the tariff command line run on the same hours and prices.
Every List 2 and List 3 push can be sent; List 1 (and List 2, to go faster) may
be sampled, which the summary states.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
import itertools
import json
import math
from pathlib import Path
import random
import subprocess
import sys
import termios
import time
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant import loader
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    entity_registry as er,
    issue_registry as ir,
    restore_state as rs,
)
from homeassistant.helpers.recorder import get_instance
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.han_port.const import (
    CONF_BAUDRATE,
    CONF_GRID_COMPANY,
    CONF_MARKUP,
    CONF_MODEL,
    CONF_MONTHLY_FEE,
    CONF_PARITY,
    CONF_PORT,
    CONF_PRICE_ENTITY,
    CONF_SCHEME,
    CONF_TAX_ZONE,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.han_port.coordinator import HanCoordinator
from custom_components.han_port.han.model import Quantity
from custom_components.han_port.han.simulator import (
    MS_PER_HOUR,
    MeterSimulator,
    SimulatedFrame,
)
from custom_components.han_port.registers import Rejection
from custom_components.han_port.statistics import cost_statistic_id, statistic_id

from .meter import PtyMeter

ZONE = ZoneInfo("Europe/Oslo")
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
IMPORT = Quantity.ACTIVE_ENERGY_IMPORT
EXPORT = Quantity.ACTIVE_ENERGY_EXPORT
PRICE_ENTITY = "sensor.nord_pool_no1_current_price"
ENTRY_ID = "01SOAKHANPORTENTRY000000"
REPEAT_DELAY = timedelta(seconds=30)
# While the line is silent the clock moves in steps this long, so the
# listener's watchdog and reconnect back-off run as they would.
SILENT_STEP = timedelta(seconds=15)
CLOSED_STEP = timedelta(seconds=1)
# The statistics' hours may differ from the true energy of the clock hour by
# the register resolution (10 Wh) plus the 10 s between hh:00 and the push.
PHYSICAL_SLACK_WH = 10 + 10 * 25_000 / 3600


@dataclass(frozen=True, slots=True)
class Plan:
    """What happens when (UTC); restarts are (stop, start again) pairs.

    UTC because aware datetimes that share a ``ZoneInfo`` are compared and
    subtracted by wall time, which is wrong across a clock change.
    """

    name: str
    start: datetime
    end: datetime
    restarts: tuple[tuple[datetime, datetime], ...]
    outage: tuple[datetime, datetime]
    repeat: datetime  # the List 3 of this hour boundary is sent twice
    list1_every: timedelta
    list2_every: timedelta
    grid_company: str = "elvia"
    seed: int = 11
    solar_peak_w: int = 4000

    @property
    def month(self) -> str:
        """Return the month billed (that of the first whole hour)."""
        return (self.start + HOUR).astimezone(ZONE).strftime("%Y-%m")


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def clock_change(first: date, last: date) -> datetime | None:
    """Return the instant (UTC) the clocks change between two days, if they do."""
    day = first
    while day <= last:
        midnight = _local(day, 0)
        after = _local(day + timedelta(days=1), 0)
        if midnight.utcoffset() != after.utcoffset():
            # Both changes happen at 01:00 UTC in Europe.
            return datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
        day += timedelta(days=1)
    return None


def make_plan(
    name: str,
    first: date,
    days: int,
    *,
    event_days: tuple[int, int, int, int],
    list1_every: timedelta,
    list2_every: timedelta,
    grid_company: str = "elvia",
    seed: int = 11,
) -> Plan:
    """Lay the events out over ``days`` days from ``first``.

    ``event_days`` are the day offsets of the short restart with the outage,
    the repeated List 3, the restart across a morning hour and (when the span
    has no clock change) the restart across midnight. The second restart is
    across the clock change when there is one: the List 3 just after it is
    missed, so the hours around the change are filled from two readings.
    """
    last = first + timedelta(days=days - 1)
    start = _local(first, 0) - timedelta(seconds=20)
    end = _local(last + timedelta(days=1), 0) + timedelta(seconds=30)
    outage_day, repeat_day, morning_day, midnight_day = (
        first + timedelta(days=offset) for offset in event_days
    )
    change = clock_change(first, last)
    across = (
        (change - timedelta(minutes=20), change + timedelta(minutes=5))
        if change is not None
        else (_local(midnight_day, 23, 50), _local(midnight_day, 23, 50) + 2 * QUARTER)
    )
    return Plan(
        name=name,
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        restarts=tuple(
            sorted(
                (down.astimezone(UTC), up.astimezone(UTC))
                for down, up in (
                    (_local(outage_day, 9, 20), _local(outage_day, 9, 24)),
                    across,
                    (_local(morning_day, 7, 55), _local(morning_day, 8, 20)),
                )
            )
        ),
        outage=(
            _local(outage_day, 13, 30).astimezone(UTC),
            _local(outage_day, 18, 30).astimezone(UTC),
        ),
        repeat=_local(repeat_day, 21).astimezone(UTC),
        list1_every=list1_every,
        list2_every=list2_every,
        grid_company=grid_company,
        seed=seed,
    )


def compressed_plan() -> Plan:
    """Return two days up to the end of the October clock change, every event included."""
    return make_plan(
        "24-25 October 2026 (clock change on the 25th)",
        date(2026, 10, 24),
        2,
        event_days=(0, 0, 1, 0),
        list1_every=timedelta(minutes=5),
        list2_every=timedelta(seconds=20),
    )


def month_plan(
    year: int,
    month: int,
    *,
    list1_every: timedelta = timedelta(minutes=5),
    list2_every: timedelta = timedelta(seconds=20),
) -> Plan:
    """Return a whole calendar month with the events spread over it."""
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return make_plan(
        f"{first:%B %Y}",
        first,
        (following - first).days,
        event_days=(12, 19, 26, 5),
        list1_every=list1_every,
        list2_every=list2_every,
    )


# Prices --------------------------------------------------------------------


def day_prices(day: date, seed: int) -> list[tuple[datetime, str]]:
    """Return a day's 15-minute spot prices (NOK/kWh ex VAT, 5 decimals).

    Evening peaks above the strømstøtte threshold and a few negative quarters
    at midday keep every branch of the pricing busy.
    """
    rng = random.Random(seed * 100_000 + day.toordinal())
    level = rng.uniform(0.35, 1.1)
    moment = _local(day, 0).astimezone(UTC)
    end = _local(day + timedelta(days=1), 0).astimezone(UTC)
    prices: list[tuple[datetime, str]] = []
    while moment < end:
        hour = moment.astimezone(ZONE).hour
        shape = {7: 1.4, 8: 1.5, 9: 1.2, 17: 1.5, 18: 1.7, 19: 1.5, 20: 1.2}.get(
            hour, 0.8 if hour < 6 else 1.0
        )
        value = level * shape + rng.gauss(0, 0.05)
        if 11 <= hour <= 14 and rng.random() < 0.08:
            value = -rng.uniform(0.001, 0.05)
        prices.append((moment, f"{value:.5f}"))
        moment += QUARTER
    return prices


class PriceFeed:
    """A Nord Pool-style price entity: today's list, tomorrow's from 13:00."""

    def __init__(self, seed: int) -> None:
        """Start with no state set."""
        self.seed = seed
        self.all: dict[datetime, str] = {}
        self._shown: tuple[datetime, bool] | None = None

    def _day(self, day: date) -> list[tuple[datetime, str]]:
        prices = day_prices(day, self.seed)
        self.all.update(prices)
        return prices

    def update(
        self, hass: HomeAssistant, now: datetime, *, force: bool = False
    ) -> None:
        """Set the entity as it reads at ``now`` (once per quarter)."""
        local = now.astimezone(ZONE)
        quarter = now.astimezone(UTC).replace(
            minute=now.minute - now.minute % 15, second=0, microsecond=0
        )
        key = (quarter, local.hour >= 13)
        if not force and self._shown == key:
            return
        self._shown = key
        today = self._day(local.date())
        tomorrow = self._day(local.date() + timedelta(days=1)) if key[1] else []

        def raw(prices: list[tuple[datetime, str]]) -> list[dict[str, Any]]:
            return [
                {
                    "start": start.astimezone(ZONE).isoformat(),
                    "end": (start + QUARTER).astimezone(ZONE).isoformat(),
                    "value": float(value),
                }
                for start, value in prices
            ]

        hass.states.async_set(
            PRICE_ENTITY,
            str(float(dict(today)[quarter])),
            {
                "unit_of_measurement": "NOK/kWh",
                "currency": "NOK",
                "raw_today": raw(today),
                "raw_tomorrow": raw(tomorrow),
            },
        )


# The meter's line ------------------------------------------------------------


class SoakLine(PtyMeter):
    """The pseudo-terminal the meter writes to, put back to new when reopened.

    serialx cannot configure a pty it configured before on this glibc
    (tcsetattr EINVAL), so the line gets its pristine settings whenever the
    integration has closed it, as a replugged adapter would have them.
    """

    def __init__(self, simulator: MeterSimulator) -> None:
        """Open the pty and remember its settings."""
        super().__init__(simulator)
        self.fresh = termios.tcgetattr(self.slave)

    def reset_line(self) -> None:
        """Restore the settings the pty had before anything opened it."""
        termios.tcsetattr(self.slave, termios.TCSANOW, self.fresh)


# Truth -----------------------------------------------------------------------


def boundary_of(frame: SimulatedFrame) -> datetime:
    """Return the hour boundary (UTC) a List 3 push closes."""
    return frame.time.replace(minute=0, second=0, microsecond=0)


def register(frame: SimulatedFrame, quantity: Quantity) -> int:
    """Return a register as the frame states it, in Wh."""
    value = frame.truth[quantity]
    assert isinstance(value, int)
    return value


def spread_rows(
    readings: list[SimulatedFrame], quantity: Quantity
) -> dict[datetime, int]:
    """Return Wh per hour start (UTC) between consecutive received readings.

    This is the documented filling of hours without a reading: the register
    difference split evenly in whole Wh, the remainder to the later hours.
    """
    rows: dict[datetime, int] = {}
    for before, after in itertools.pairwise(readings):
        start, end = boundary_of(before), boundary_of(after)
        hours = round((end - start) / HOUR)
        delta = register(after, quantity) - register(before, quantity)
        done = 0
        for index in range(1, hours + 1):
            part = delta * index // hours - done
            done += part
            rows[start + (index - 1) * HOUR] = part
    return rows


def top_days(
    hours: dict[datetime, Fraction], count: int = 3
) -> list[tuple[datetime, Fraction]]:
    """Return the ``count`` highest daily maxima as (hour start, kWh).

    Each local day's largest hour (the first on a tie); the days ranked by it.
    """
    best: dict[date, tuple[Fraction, datetime]] = {}
    for start in sorted(hours):
        kwh = hours[start]
        day = start.astimezone(ZONE).date()
        if day not in best or kwh > best[day][0]:
            best[day] = (kwh, start)
    ranked = sorted(best.values(), key=lambda item: (-item[0], item[1]))[:count]
    return [(start, kwh) for kwh, start in ranked]


def _peaks(hours: dict[datetime, Fraction]) -> list[tuple[str, float]]:
    """Return the top days' peaks as the sensor writes them (local start, kWh)."""
    return sorted(
        (start.astimezone(ZONE).isoformat(), round(float(kwh), 3))
        for start, kwh in top_days(hours)
    )


# The run -----------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """What the run did, for the summary."""

    generated: int = 0
    sent: dict[int, int] = field(default_factory=lambda: {1: 0, 2: 0, 3: 0})
    skipped_down: int = 0
    skipped_silent: int = 0
    restarts: list[str] = field(default_factory=list)
    reconnects: int = 0
    watchdog_timeouts: int = 0
    repeated_rejected: int = 0
    repeat_issue: bool = False
    received: list[SimulatedFrame] = field(default_factory=list)
    list3: list[SimulatedFrame] = field(default_factory=list)
    physical: dict[datetime, dict[Quantity, Fraction]] = field(default_factory=dict)
    peaks_seen: list[dict[str, Any]] = field(default_factory=list)
    peaks_until: datetime | None = None
    cost_month: float | None = None
    cost_month_key: str = ""
    last_month_sensor: tuple[str, str | None] | None = None
    issues_left: list[str] = field(default_factory=list)
    exceptions: list[BaseException] = field(default_factory=list)
    wall: float = 0.0
    generate_wall: float = 0.0


class Soak:
    """Drives one plan through Home Assistant instance after instance."""

    def __init__(
        self,
        plan: Plan,
        freezer: FrozenDateTimeFactory,
        test_recorder: Callable[
            [HomeAssistant], contextlib.AbstractAsyncContextManager[Any]
        ],
        config_dir: str | None,
        out_dir: Path,
        *,
        progress: bool = False,
    ) -> None:
        """Prepare the meter, its line and the price feed."""
        self.progress = progress
        self.plan = plan
        self.freezer = freezer
        self.test_recorder = test_recorder
        self.config_dir = config_dir
        self.out_dir = out_dir
        self.simulator = MeterSimulator(
            "aidon",
            start=plan.start,
            seed=plan.seed,
            solar_peak_w=plan.solar_peak_w,
        )
        self.line = SoakLine(self.simulator)
        self.prices = PriceFeed(plan.seed)
        self.tally = Tally()
        self.meter_id = self.simulator.meter_id
        self.hass: HomeAssistant | None = None
        self.entry: MockConfigEntry | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._now = plan.start
        self._last = {
            1: datetime.min.replace(tzinfo=UTC),
            2: datetime.min.replace(tzinfo=UTC),
        }

    # Home Assistant instances ------------------------------------------------

    @property
    def coordinator(self) -> HanCoordinator:
        """Return the running entry's coordinator."""
        assert self.entry is not None
        coordinator = self.entry.runtime_data
        assert isinstance(coordinator, HanCoordinator)
        return coordinator

    def options(self) -> dict[str, Any]:
        """Return the tariff options: a spot contract with strømstøtte."""
        return {
            CONF_GRID_COMPANY: self.plan.grid_company,
            CONF_TAX_ZONE: "auto",
            CONF_SCHEME: "stromstotte",
            CONF_PRICE_ENTITY: PRICE_ENTITY,
            CONF_MARKUP: 0.02,
            CONF_MONTHLY_FEE: 29.0,
        }

    async def start_home_assistant(self, now: datetime) -> None:
        """Start an instance on the shared storage and database, then the entry."""
        self._now = now
        self.freezer.move_to(now)
        stack = contextlib.AsyncExitStack()
        hass = await stack.enter_async_context(
            async_test_home_assistant(config_dir=self.config_dir)
        )
        loop = asyncio.get_running_loop()

        def failed(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            self.tally.exceptions.append(
                context.get("exception") or RuntimeError(context["message"])
            )

        loop.set_exception_handler(failed)
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
        await hass.config.async_set_time_zone("Europe/Oslo")
        await stack.enter_async_context(
            self.test_recorder(hass, {"commit_interval": 5})
        )
        # The harness loads restore state from an empty store; read the saved one.
        hass.data.pop(rs.DATA_RESTORE_STATE, None)
        await rs.async_load(hass)
        self.prices.update(hass, now, force=True)
        entry = MockConfigEntry(
            domain=DOMAIN,
            entry_id=ENTRY_ID,
            title="Aidon 6540",
            unique_id=self.meter_id,
            data={
                CONF_PORT: self.line.port,
                CONF_BAUDRATE: 2400,
                CONF_PARITY: "E",
                CONF_VENDOR: "aidon",
                CONF_MODEL: "6540",
            },
            options=self.options(),
        )
        entry.add_to_hass(hass)
        self.line.reset_line()
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        self.hass, self.entry, self._stack = hass, entry, stack

    async def stop_home_assistant(self, now: datetime, reason: str) -> None:
        """Stop the instance as Home Assistant stops; the port goes with the process."""
        hass, stack = self.hass, self._stack
        assert hass is not None and stack is not None
        self.freezer.move_to(now)
        await hass.async_block_till_done()
        # At a hundred times real speed the recorder falls behind; a real one
        # keeps pace, so it may catch up before the stop (or the stop's 'final
        # write' stage times out and drops the queue, rows included).
        await async_wait_recording_done(hass)
        self._count_listener()
        listener = self.coordinator.listener
        await rs.async_get(hass).async_dump_states()
        await hass.async_stop()
        # The process would exit here and the port close with it.
        await listener.async_close()
        await stack.aclose()
        self.hass = self.entry = self._stack = None
        self.tally.restarts.append(reason)

    def _count_listener(self) -> None:
        stats = self.coordinator.listener.stats
        self.tally.reconnects += stats.reconnects
        self.tally.watchdog_timeouts += stats.watchdog_timeouts

    # Time and bytes ---------------------------------------------------------

    async def _spin(self, until: Callable[[], bool], what: str) -> None:
        for _ in range(50):
            if until():
                return
            await asyncio.sleep(0)
        deadline = _wall() + 10
        while not until():
            if _wall() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.002)

    async def move(self, now: datetime) -> None:
        """Move the clock; the listener gets a pristine line whenever it reopens.

        While the port is closed the clock moves a second at a time with a
        moment of real time in between, so a reopen in flight completes
        before its 15 s timeout is overtaken by the simulated clock.
        """
        assert self.hass is not None
        listener = self.coordinator.listener
        moment = self._now
        while not listener.connected and moment < now:
            moment = min(now, moment + CLOSED_STEP)
            self.freezer.move_to(moment)
            self.line.reset_line()
            await asyncio.sleep(0.001)
        self._now = now
        self.freezer.move_to(now)
        self.prices.update(self.hass, now)
        for _ in range(3):
            await asyncio.sleep(0)

    async def write(self, frame: SimulatedFrame, data: bytes | None = None) -> bool:
        """Write a push if the port is open; wait until the integration has read it."""
        await self.move(frame.time)
        listener = self.coordinator.listener
        if not listener.connected:
            return False
        payload = frame.data if data is None else data
        target = listener.stats.bytes_received + len(payload)
        self.line.write(payload)
        await self._spin(lambda: listener.stats.bytes_received >= target, "the push")
        self.tally.sent[frame.list_type] += 1
        return True

    def _due(self, moment: datetime, kind: int) -> bool:
        if kind == 3:
            return True
        every = self.plan.list1_every if kind == 1 else self.plan.list2_every
        if moment - self._last[kind] >= every:
            self._last[kind] = moment
            return True
        return False

    def _schedule(self, end: datetime) -> Iterator[tuple[int, int]]:
        """Yield the meter's pushes (epoch ms, list type) up to ``end``.

        Frames are encoded only when sent (or for List 3, always): the
        household is integrated second by second all the same, so the
        energy truth does not depend on what was sampled.
        """
        simulator = self.simulator
        end_ms = math.ceil(end.timestamp() * 1000)
        for when, kind in simulator.schedule(simulator._next_ms, end_ms):
            simulator._next_ms = when + 1
            yield when, kind

    # The plan -----------------------------------------------------------------

    async def run(self) -> Tally:
        """Run the whole plan; the last instance is left running for the checks."""
        plan = self.plan
        began = _wall()
        asyncio.get_running_loop().set_debug(False)
        stops = list(plan.restarts)
        outage_start, outage_end = plan.outage
        repeat_at: tuple[datetime, SimulatedFrame] | None = None
        silent_since: datetime | None = None
        await self.start_home_assistant(plan.start)
        simulator = self.simulator
        generate = 0.0
        for when, kind in self._schedule(plan.end):
            tick = _wall()
            simulator.household.advance_to(when)
            moment = datetime.fromtimestamp(when / 1000, UTC)
            frame = simulator._frame(when, kind) if kind == 3 else None
            if when % MS_PER_HOUR == 0:
                self.tally.physical[moment] = simulator.exact_energy()
            generate += _wall() - tick
            self.tally.generated += 1
            if frame is not None:
                self.tally.list3.append(frame)
                if self.progress and moment.astimezone(ZONE).hour == 0:
                    print(  # noqa: T201
                        f"{_fmt(moment)}: {sum(self.tally.sent.values())} frames sent, "
                        f"{_wall() - began:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
            if repeat_at is not None and moment >= repeat_at[0]:
                again = repeat_at[1]
                repeat_at = None
                await self.move(again.time + REPEAT_DELAY)
                rejected = self.coordinator.guard.rejected[Rejection.REPEATED]
                assert await self.write(_at(again, again.time + REPEAT_DELAY)), (
                    "the repeated List 3 could not be sent"
                )
                await self.hass.async_block_till_done()
                self.tally.repeated_rejected = (
                    self.coordinator.guard.rejected[Rejection.REPEATED] - rejected
                )
                self.tally.repeat_issue = (
                    ir.async_get(self.hass).async_get_issue(
                        DOMAIN, f"rejected_register_{ENTRY_ID}"
                    )
                    is not None
                )
            if stops and moment >= stops[0][0]:
                down, up = stops.pop(0)
                await self.stop_home_assistant(down, f"{_fmt(down)} → {_fmt(up)}")
            if self.hass is None:
                if moment < up:
                    self.tally.skipped_down += 1
                    continue
                await self.start_home_assistant(up)
            if outage_start <= moment < outage_end:
                self.tally.skipped_silent += 1
                if silent_since is None or moment - silent_since >= SILENT_STEP:
                    silent_since = moment
                    await self.move(moment)
                continue
            if not self._due(moment, kind):
                continue
            if frame is None:
                tick = _wall()
                frame = simulator._frame(when, kind)
                generate += _wall() - tick
            if frame.list_type == 3 and moment + HOUR >= plan.end:
                await self.move(moment)
                self._before_last()
            if await self.write(frame):
                if frame.list_type == 3:
                    self.tally.received.append(frame)
                    if boundary_of(frame) == plan.repeat.astimezone(UTC):
                        repeat_at = (moment + REPEAT_DELAY, frame)
            elif frame.list_type == 3:
                raise AssertionError(
                    f"port closed at the List 3 of {_fmt(moment)}: "
                    f"{self.coordinator.listener.stats}"
                )
        assert self.hass is not None
        await self.hass.async_block_till_done()
        self._count_listener()
        cost = self.coordinator.cost
        assert cost is not None
        if cost.last_month is not None and cost.last_month[0] == plan.month:
            self.tally.cost_month = float(cost.last_month[1])
            self.tally.cost_month_key = "frozen as last month"
            state = self._sensor("cost_last_month")
            self.tally.last_month_sensor = (
                state.state,
                state.attributes.get("month"),
            )
        elif cost.state.bill is not None:
            self.tally.cost_month = float(cost.state.bill.total)
            self.tally.cost_month_key = "month so far"
        self.tally.issues_left = sorted(
            issue_id.removesuffix(f"_{ENTRY_ID}")
            for (domain, issue_id) in ir.async_get(self.hass).issues
            if domain == DOMAIN
        )
        self.tally.generate_wall = generate
        self.tally.wall = _wall() - began
        return self.tally

    def _before_last(self) -> None:
        """Keep the peaks the sensor shows before the reading that may close the month."""
        state = self._sensor("capacity_value")
        self.tally.peaks_seen = list(state.attributes.get("peaks", []))
        self.tally.peaks_until = (
            self.coordinator.snapshot.clock if self.coordinator.snapshot else None
        )

    def _sensor(self, key: str) -> Any:
        assert self.hass is not None
        entity_id = er.async_get(self.hass).async_get_entity_id(
            "sensor", DOMAIN, f"{self.meter_id}_{key}"
        )
        assert entity_id is not None, key
        state = self.hass.states.get(entity_id)
        assert state is not None, key
        return state

    async def finish(self) -> None:
        """Stop the last instance and close the line."""
        if self.hass is not None:
            await self.stop_home_assistant(self.plan.end, "end")
            self.tally.restarts.pop()
        self.line.close()

    # Reading back -------------------------------------------------------------------

    async def rows(self, sid: str) -> dict[datetime, tuple[float, float]]:
        """Return a statistic's hourly rows: hour start (UTC) → (state, sum)."""
        hass = self.hass
        assert hass is not None
        await async_wait_recording_done(hass)
        found = await get_instance(hass).async_add_executor_job(
            statistics_during_period,
            hass,
            self.plan.start - timedelta(days=2),
            None,
            {sid},
            "hour",
            None,
            {"state", "sum"},
        )
        return {
            datetime.fromtimestamp(row["start"], UTC): (row["state"], row["sum"])
            for row in found.get(sid, [])
        }


@dataclass(slots=True)
class Report:
    """The comparison: rows of the summary table and what failed."""

    plan: Plan
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, what: str, integration: object, truth: object = "") -> None:
        """Add a row to the table."""
        self.rows.append((what, str(integration), str(truth)))

    def expect(self, ok: bool, failure: str) -> None:
        """Record a failure unless ``ok``."""
        if not ok:
            self.failures.append(failure)

    def table(self) -> str:
        """Return the summary table as text."""
        head = ("", "integration", "truth / check")
        widths = [
            max(len(row[index]) for row in [head, *self.rows]) for index in range(3)
        ]
        line = "+".join("-" * (width + 2) for width in widths)
        out = [f"HAN Port soak: {self.plan.name}", line]
        for row in [head, *self.rows]:
            out.append(
                " | ".join(
                    cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                )
            )
            if row is head:
                out.append(line)
        out.append(line)
        out.append("result: " + ("PASS" if not self.failures else "FAIL"))
        out.extend(f"  - {failure}" for failure in self.failures)
        return "\n".join(out)


def _wh(value: float) -> int:
    return round(value * 1000)


def _changes(rows: dict[datetime, tuple[float, float]]) -> dict[datetime, int]:
    """Return each hour's change of the sum (Wh), the first row's from 0."""
    changes: dict[datetime, int] = {}
    previous = 0
    for start in sorted(rows):
        total = _wh(rows[start][1])
        changes[start] = total - previous
        previous = total
    return changes


async def check(soak: Soak) -> Report:
    """Compare what Home Assistant recorded with the simulator's truth and the CLI."""
    plan, tally = soak.plan, soak.tally
    report = Report(plan)
    received, every = tally.received, tally.list3
    hours_simulated = round((plan.end - plan.start) / HOUR)
    report.add(
        "hours simulated",
        hours_simulated,
        f"{plan.start.astimezone(ZONE):%Y-%m-%d %H:%M} → {plan.end.astimezone(ZONE):%Y-%m-%d %H:%M}",
    )
    sent = tally.sent
    report.add(
        "frames sent (List 1/2/3)",
        f"{sum(sent.values())} ({sent[1]}/{sent[2]}/{sent[3]})",
        f"of {tally.generated} the meter pushed; List 1 one per {plan.list1_every.total_seconds():g} s, List 2 one per {plan.list2_every.total_seconds():g} s, every List 3",
    )
    report.add(
        "pushes lost (HA stopped / line silent)",
        f"{tally.skipped_down} / {tally.skipped_silent}",
        "not written to the pty; the meter's registers kept counting",
    )
    report.add(
        "restarts (real HA stop/start)", len(tally.restarts), "; ".join(tally.restarts)
    )
    outage = f"{_fmt(plan.outage[0])} → {_fmt(plan.outage[1])}"
    report.add(
        "line silent (outage)",
        outage,
        f"{tally.watchdog_timeouts} watchdog timeouts, {tally.reconnects} reconnects",
    )
    report.expect(len(tally.restarts) == 3, "three restarts expected")
    report.expect(tally.watchdog_timeouts >= 1, "the outage never tripped the watchdog")

    missed = [frame for frame in every if frame not in received]
    report.add(
        "List 3 received / missed",
        f"{len(received)} / {len(missed)}",
        "missed while stopped or silent: "
        + ", ".join(_fmt(boundary_of(frame)) for frame in missed),
    )
    report.add(
        "repeated List 3 rejected",
        tally.repeated_rejected,
        f"sent again 30 s later: {_fmt(plan.repeat)}; repair issue raised: {tally.repeat_issue}",
    )
    report.expect(tally.repeat_issue, "no repair issue for the repeated List 3")
    report.expect(
        tally.repeated_rejected == 1,
        f"repeated List 3 rejected {tally.repeated_rejected} times, not once",
    )

    worst_physical = Fraction(0)
    exact_hours = spread_hours = 0
    for quantity in (IMPORT, EXPORT):
        name = "import" if quantity is IMPORT else "export"
        rows = await soak.rows(statistic_id(soak.meter_id, quantity))
        changes = _changes(rows)
        expected = spread_rows(received, quantity)
        truth = spread_rows(every, quantity)
        report.expect(
            set(changes) == set(expected),
            f"{name}: hours recorded differ from the hours closed ({len(changes)} vs {len(expected)})",
        )
        wrong = [start for start in expected if changes.get(start) != expected[start]]
        report.expect(
            not wrong,
            f"{name}: {len(wrong)} hours differ from the registers, first {_fmt(wrong[0]) if wrong else ''}",
        )
        states = [
            start
            for start in expected
            if start in rows
            and start in truth
            and truth[start] == expected[start]
            and _wh(rows[start][0]) != _register_at(every, start + HOUR, quantity)
        ]
        report.expect(
            not states,
            f"{name}: {len(states)} rows state a register other than the meter's",
        )
        gap = {
            start
            for start in expected
            if expected[start] != truth.get(start) or _in_gap(start, received)
        }
        exact = [start for start in expected if start not in gap]
        report.expect(
            all(changes.get(start) == truth[start] for start in exact),
            f"{name}: hours outside gaps differ from the truth",
        )
        total = sum(changes.values())
        delta = register(received[-1], quantity) - register(received[0], quantity)
        report.add(
            f"kWh {name}: statistics / register delta",
            f"{total / 1000:.3f}",
            f"{delta / 1000:.3f} (truth hours sum {sum(truth[s] for s in expected if s in truth) / 1000:.3f})",
        )
        report.expect(
            total == delta,
            f"{name}: statistics sum {total} Wh, register delta {delta} Wh",
        )
        deviation = max(
            (
                abs(changes.get(start, 0) - truth[start])
                for start in gap
                if start in truth
            ),
            default=0,
        )
        physical = tally.physical
        for start in exact:
            if start in physical and start + HOUR in physical:
                true_wh = physical[start + HOUR][quantity] - physical[start][quantity]
                worst_physical = max(worst_physical, abs(changes[start] - true_wh))
        if quantity is IMPORT:
            exact_hours, spread_hours = len(exact), len(gap)
            report.add(
                "hours exact to the Wh / filled evenly",
                f"{exact_hours} / {spread_hours}",
                f"filled hours deviate from their true energy by up to {deviation} Wh (their sum is exact)",
            )
    report.add(
        "max |hour - true clock-hour energy|",
        f"{float(worst_physical):.1f} Wh",
        f"register step 10 Wh + 10 s push delay (limit {PHYSICAL_SLACK_WH:.0f} Wh)",
    )
    report.expect(
        worst_physical <= PHYSICAL_SLACK_WH,
        f"an hour is {float(worst_physical):.1f} Wh from its true energy",
    )

    await _check_cost(soak, report)
    report.add("repair issues left", ", ".join(tally.issues_left) or "none")
    report.expect(
        not any(
            issue.startswith(("no_data", "tariff_expired", "checksum"))
            for issue in tally.issues_left
        ),
        f"issues left: {tally.issues_left}",
    )
    report.add(
        "exceptions in the event loop",
        len(tally.exceptions),
        "; ".join(repr(err) for err in tally.exceptions[:3]),
    )
    report.expect(not tally.exceptions, f"exceptions: {tally.exceptions[:3]}")
    report.add(
        "wall time",
        f"{tally.wall:.0f} s",
        f"of which generating frames {tally.generate_wall:.0f} s",
    )
    return report


def _register_at(
    frames: list[SimulatedFrame], boundary: datetime, quantity: Quantity
) -> int | None:
    for frame in frames:
        if boundary_of(frame) == boundary:
            return register(frame, quantity)
    return None


def _in_gap(start: datetime, received: list[SimulatedFrame]) -> bool:
    """Return whether the readings on both sides of an hour were not both received."""
    boundaries = {boundary_of(frame) for frame in received}
    return start not in boundaries or start + HOUR not in boundaries


def tariff_cli(soak: Soak, hours: dict[datetime, int]) -> dict[str, Any]:
    """Write the hours (Wh) and every price shown as CSV; return the CLI's bill."""
    plan, out = soak.plan, soak.out_dir
    out.mkdir(parents=True, exist_ok=True)
    consumption = out / "consumption.csv"
    consumption.write_text(
        "start,kwh\n"
        + "".join(
            f"{start.isoformat()},{wh // 1000}.{wh % 1000:03d}\n"
            for start, wh in sorted(hours.items())
        ),
        encoding="utf-8",
    )
    spot = out / "spot.csv"
    spot.write_text(
        "start,nok_per_kwh\n"
        + "".join(
            f"{start.isoformat()},{price}\n"
            for start, price in sorted(soak.prices.all.items())
        ),
        encoding="utf-8",
    )
    options = soak.options()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "custom_components.han_port.tariff",
            "bill",
            "--grid-company",
            plan.grid_company,
            "--month",
            plan.month,
            "--consumption",
            str(consumption),
            "--spot",
            str(spot),
            "--scheme",
            options[CONF_SCHEME],
            "--markup",
            str(options[CONF_MARKUP]),
            "--monthly-fee",
            str(options[CONF_MONTHLY_FEE]),
            "--hourly",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tariff CLI failed: {done.stderr.strip()}")
    (out / "bill.json").write_text(done.stdout, encoding="utf-8")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def _check_cost(soak: Soak, report: Report) -> None:
    """Price the same hours and prices with the tariff command line."""
    plan, tally = soak.plan, soak.tally
    month_start = datetime.strptime(plan.month, "%Y-%m").replace(tzinfo=ZONE)
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    hours = {
        start: wh
        for start, wh in spread_rows(tally.received, IMPORT).items()
        if month_start <= start < month_end
    }
    try:
        bill = await asyncio.get_running_loop().run_in_executor(
            None, tariff_cli, soak, hours
        )
    except RuntimeError as err:
        report.expect(False, str(err))
        return
    rows = await soak.rows(cost_statistic_id(soak.meter_id))
    cli_hours = {
        datetime.fromisoformat(hour["start"]).astimezone(UTC): hour["total"]
        for hour in bill["hours"]
    }
    report.expect(
        set(cli_hours) <= set(rows),
        f"{len(set(cli_hours) - set(rows))} priced hours have no cost row",
    )
    worst = max(
        (
            abs(rows[start][0] - total)
            for start, total in cli_hours.items()
            if start in rows
        ),
        default=0.0,
    )
    report.add(
        "max |hourly cost - CLI| (NOK)",
        f"{worst:.4f}",
        f"{len(cli_hours)} hours, limit 0.01",
    )
    report.expect(worst <= 0.01, f"an hour's cost is {worst:.4f} NOK from the CLI")
    month_rows = [rows[start][0] for start in rows if month_start <= start < month_end]
    energy_cost = sum(month_rows)
    cli_energy = bill["total"] - bill["grid_capacity"]["amount"] - bill["supply_fee"]
    report.add(
        "month's hourly cost statistic / CLI (NOK)",
        f"{energy_cost:.2f}",
        f"{cli_energy:.2f} (CLI total minus capacity step and fees), limit 0.05",
    )
    report.expect(
        abs(energy_cost - cli_energy) <= 0.05,
        f"month's cost statistic {energy_cost:.2f} vs CLI {cli_energy:.2f}",
    )
    report.add(
        "month's bill / CLI total (NOK)",
        f"{tally.cost_month:.2f}" if tally.cost_month is not None else "unknown",
        f"{bill['total']:.2f} ({tally.cost_month_key}), limit 0.05",
    )
    report.expect(
        tally.cost_month is not None and abs(tally.cost_month - bill["total"]) <= 0.05,
        f"month's bill {tally.cost_month} vs CLI {bill['total']}",
    )
    if tally.last_month_sensor is not None:
        shown, month = tally.last_month_sensor
        report.add("'Cost last month' sensor (NOK)", shown, f"month {month}")
        report.expect(
            month == plan.month and abs(float(shown) - bill["total"]) <= 0.05,
            f"'Cost last month' shows {shown} for {month}, CLI {bill['total']}",
        )
    # Peaks: those the sensor showed before the last reading, against the true hours then.
    until = tally.peaks_until
    known = {
        start: Fraction(wh, 1000)
        for start, wh in spread_rows(tally.received, IMPORT).items()
        if until is not None and month_start <= start < until
    }
    true = {
        start: Fraction(wh, 1000)
        for start, wh in spread_rows(tally.list3, IMPORT).items()
        if start in known
    }
    shown = sorted((peak["start"], peak["kwh"]) for peak in tally.peaks_seen)
    expected = _peaks(known)
    truth = _peaks(true)
    report.add(
        "capacity peaks (sensor)",
        "; ".join(f"{start[5:16]} {kwh:.3f}" for start, kwh in shown),
        "true: " + "; ".join(f"{start[5:16]} {kwh:.3f}" for start, kwh in truth),
    )
    report.expect(
        shown == expected, f"peaks {shown} differ from the hours recorded {expected}"
    )
    report.expect(shown == truth, f"peaks {shown} differ from the true ones {truth}")
    cli_peaks = "; ".join(
        f"{day[5:]} {hour:02d}:00 {kwh:.3f}"
        for day, hour, kwh in bill["grid_capacity"]["peaks"]
    )
    report.add(
        "capacity (CLI, whole month)",
        f"{bill['grid_capacity']['capacity_kw']} kW, step {bill['grid_capacity']['amount']:.2f} NOK",
        cli_peaks,
    )


def _at(frame: SimulatedFrame, moment: datetime) -> SimulatedFrame:
    """Return the same push sent again at another time."""
    return SimulatedFrame(
        time=moment,
        data=frame.data,
        list_type=frame.list_type,
        truth=frame.truth,
        energy=frame.energy,
    )


def _wall() -> float:
    """Return real seconds: freezegun moves ``time.monotonic`` with the simulated clock."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def _fmt(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%d %b %H:%M %Z")
