"""Faults in what the meter says, through a real port into the recorder's statistics.

Hourly List 3 pushes of a simulated Aidon go through a pseudo-terminal into a
running entry while the clock is moved to each push, as in
``test_statistics``; here the pushes are bytes on the line and the faults are
in them: a meter clock that changes with DST or is set wrong, a resent hour,
a register that drops or reads zero, and an hourly push missed while Home
Assistant restarts. Every test checks the recorded rows against the
simulator's registers and its exact energy, hour by hour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
import itertools
import logging
from typing import Any

from freezegun.api import TickingDateTimeFactory
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.han_port.const import (
    CONF_FIXED_PRICE,
    CONF_GRID_COMPANY,
    CONF_PORT,
    CONF_SCHEME,
    CONF_TAX_ZONE,
    DOMAIN,
)
from custom_components.han_port.han.model import Quantity
from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame
from custom_components.han_port.registers import Rejection
from custom_components.han_port.statistics import cost_statistic_id, statistic_id

from .rig import (
    EXPORT,
    HOUR,
    IMPORT,
    METER_ID,
    ZONE,
    Meter,
    StateLog,
    as_wh,
    coordinator_of,
    entry_for,
    errors_logged,
    expected_rows,
    hour_of,
    log_lines,
    register,
    short_timings,
    state,
    telegrams,
    with_register,
)

DAY = datetime(2026, 3, 10, tzinfo=ZONE)
REGISTERS = (IMPORT, EXPORT)
REJECTED = "Rejected an energy register reading"

# The clock ticks on from wherever a test moves it (see test_statistics).
pytestmark = pytest.mark.freeze_time(tick=True)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_db_url: str, enable_custom_integrations: None
) -> None:
    """Enable custom integrations after the recorder's database is chosen."""


@pytest.fixture(autouse=True)
async def oslo(hass: HomeAssistant) -> None:
    """Run in the meter's time zone."""
    await hass.config.async_set_time_zone("Europe/Oslo")


@pytest.fixture(autouse=True)
def no_watchdog() -> Iterator[None]:
    """Keep the listener on its port while the clock jumps from hour to hour."""
    with short_timings(watchdog=1e9):
        yield


@pytest.fixture
def meters() -> Iterator[Callable[[], Meter]]:
    """Return a factory of pty meters (a restarted entry needs a fresh pty)."""
    made: list[Meter] = []

    def make() -> Meter:
        made.append(Meter(MeterSimulator("aidon", start=DAY)))
        return made[-1]

    yield make
    for meter in made:
        meter.close()


def day_frames(
    start: datetime = DAY, hours: int = 12, **simulator: Any
) -> list[SimulatedFrame]:
    """Return the List 3 pushes at the ``hours + 1`` real hour boundaries from ``start``."""
    start = start.astimezone(UTC)
    settings: dict[str, Any] = {"seed": 7, "solar_peak_w": 6000, **simulator}
    meter = MeterSimulator("aidon", start=start - timedelta(seconds=20), **settings)
    frames = meter.frames_until(start + hours * HOUR + timedelta(seconds=30))
    return [frame for frame in frames if frame.list_type == 3]


async def async_start(
    hass: HomeAssistant,
    meter: Meter,
    entry: MockConfigEntry | None = None,
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """Set up (or set up again) the meter's entry on ``meter``."""
    if entry is None:
        entry = entry_for(hass, meter.port, options=options)
    else:
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_PORT: meter.port}
        )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def async_push(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    meter: Meter,
    entry: MockConfigEntry,
    pushes: list[tuple[datetime, bytes]],
) -> None:
    """Write each push to the line at its time, and wait until it is decoded."""
    coordinator = coordinator_of(entry)
    for at, data in pushes:
        freezer.move_to(at)
        count = coordinator.decoder.stats.telegrams + 1
        meter.write(data)
        await telegrams(coordinator, count)
        await hass.async_block_till_done()


def on_time(frames: list[SimulatedFrame]) -> list[tuple[datetime, bytes]]:
    """Return pushes that arrive when the meter sends them."""
    return [(frame.time, frame.data) for frame in frames]


async def async_rows(
    hass: HomeAssistant, quantity: Quantity | None
) -> list[dict[str, Any]]:
    """Return the recorded hourly rows of a register (None: the cost), oldest first."""
    await async_wait_recording_done(hass)
    sid = (
        cost_statistic_id(METER_ID)
        if quantity is None
        else statistic_id(METER_ID, quantity)
    )
    found = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        DAY - timedelta(days=5),
        None,
        {sid},
        "hour",
        None,
        {"state", "sum"},
    )
    return [dict(row) for row in found.get(sid, [])]


async def assert_booked(
    hass: HomeAssistant, accepted: list[SimulatedFrame]
) -> list[tuple[datetime, int, int]]:
    """Assert the rows are exactly those of the accepted readings, sums to the Wh.

    The last sum is also held against the simulator's exact energy: the
    registers are its truncation, so the two differ by less than one register
    step (10 Wh on Aidon). Returns the import rows.
    """
    booked: dict[Quantity, list[tuple[datetime, int, int]]] = {}
    for quantity in REGISTERS:
        rows = booked[quantity] = as_wh(await async_rows(hass, quantity))
        assert rows == expected_rows(accepted, quantity), quantity
        starts = [start for start, _, _ in rows]
        assert len(set(starts)) == len(starts)  # no hour twice
        total = register(accepted[-1], quantity) - register(accepted[0], quantity)
        assert rows[-1][2] == total
        exact = accepted[-1].energy[quantity] - accepted[0].energy[quantity]
        assert abs(rows[-1][2] - exact) < 10
    return booked[IMPORT]


# The meter's clock ------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (datetime(2026, 3, 29, tzinfo=ZONE), [0, 1, 3, 4, 5]),
        (datetime(2026, 10, 25, tzinfo=ZONE), [0, 1, 2, 2, 3, 4, 5]),
    ],
    ids=["spring", "autumn"],
)
async def test_dst_change_in_the_meter_clock(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    meters: Callable[[], Meter],
    day: datetime,
    hours: list[int],
) -> None:
    """The nights the clocks change, Aidon's wall-time clock books one row per real hour."""
    frames = day_frames(day, hours=len(hours), solar_peak_w=0)
    assert [hour_of(frame) for frame in frames] == [
        day.astimezone(UTC) + index * HOUR for index in range(len(hours) + 1)
    ]
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    meter = meters()
    entry = await async_start(hass, meter)

    await async_push(hass, freezer, meter, entry, on_time(frames))

    assert sum(coordinator_of(entry).guard.rejected.values()) == 0
    assert not issue_registry.async_get_issue(
        DOMAIN, f"rejected_register_{entry.entry_id}"
    )
    rows = as_wh(await async_rows(hass, IMPORT))
    assert rows == expected_rows(frames, IMPORT)
    assert [start.astimezone(ZONE).hour for start, _, _ in rows] == hours


@pytest.mark.parametrize(
    "offset", [timedelta(hours=-3), timedelta(hours=2)], ids=["3h-slow", "2h-fast"]
)
async def test_meter_clock_set_wrong_by_hours(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    meters: Callable[[], Meter],
    offset: timedelta,
) -> None:
    """A meter a few hours wrong keeps its own hours, as documented: no hour twice.

    Its List 3 comes when its own clock passes the hour; each push's energy
    is booked in the hour the meter closed.
    """
    frames = day_frames(hours=6, strict_clock=True)
    freezer.move_to(frames[0].time - offset - timedelta(minutes=1))
    meter = meters()
    entry = await async_start(hass, meter)

    await async_push(
        hass, freezer, meter, entry, [(f.time - offset, f.data) for f in frames]
    )

    assert sum(coordinator_of(entry).guard.rejected.values()) == 0
    assert not issue_registry.async_get_issue(
        DOMAIN, f"rejected_register_{entry.entry_id}"
    )
    rows = await assert_booked(hass, frames)
    assert [start for start, _, _ in rows] == [hour_of(frame) for frame in frames[:-1]]


async def test_meter_clock_far_ahead_books_nothing(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    meters: Callable[[], Meter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A meter four hours fast: every hourly reading is refused, once logged, one repair."""
    caplog.set_level(logging.INFO)
    offset = timedelta(hours=4)
    frames = day_frames(hours=4, strict_clock=True)
    freezer.move_to(frames[0].time - offset - timedelta(minutes=1))
    meter = meters()
    entry = await async_start(hass, meter)

    await async_push(
        hass, freezer, meter, entry, [(f.time - offset, f.data) for f in frames]
    )

    coordinator = coordinator_of(entry)
    assert coordinator.guard.rejected[Rejection.FUTURE] == len(frames)
    assert coordinator.guard.last is None
    issue = issue_registry.async_get_issue(
        DOMAIN, f"rejected_register_{entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "rejected_register_future"
    assert issue.translation_placeholders["count"] == str(len(frames))
    assert len(log_lines(caplog, REJECTED, logging.WARNING)) == 1
    for quantity in REGISTERS:
        assert await async_rows(hass, quantity) == []
    # The rest of each telegram still counts; the registers are not shown.
    assert state(hass, str(IMPORT)) is None
    assert coordinator.available
    assert not errors_logged(caplog)


def misclocked(frame: SimulatedFrame, offset: timedelta) -> bytes:
    """Return ``frame`` as a meter whose clock is ``offset`` wrong sends it.

    The registers are the true ones at the push: only the clock is wrong.
    """
    simulator = MeterSimulator(
        "aidon",
        start=frame.time + offset - timedelta(seconds=20),
        seed=7,
        strict_clock=True,
    )
    stamped = next(
        push
        for push in simulator.frames_until(frame.time + offset + timedelta(minutes=1))
        if push.list_type == 3
    )
    data = with_register(stamped, IMPORT, register(frame, IMPORT))
    return with_register(data, EXPORT, register(frame, EXPORT))


@pytest.mark.parametrize(
    ("offset", "wrong", "reason"),
    [
        (timedelta(days=2), range(5, 6), Rejection.FUTURE),
        (timedelta(days=-2), range(5, 9), Rejection.REPEATED),
    ],
    ids=["one-push-days-ahead", "hours-days-behind"],
)
async def test_meter_clock_set_wrong_by_days(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    meters: Callable[[], Meter],
    caplog: pytest.LogCaptureFixture,
    offset: timedelta,
    wrong: range,
    reason: Rejection,
) -> None:
    """Pushes stamped days off are not booked; the hours they missed are spread.

    Ahead: taken as stated, one push two days ahead would spread an hour's
    energy over two days to come, then every hour would be rejected until
    the clock caught up and two days of energy would land in one hour, a
    capacity step no household had. It is rejected as a clock in the
    future. Behind: the pushes are not after the last accepted one, so they
    are rejected as repeats rather than overwrite rows two days old. When the
    clock is right again, the next push closes all the hours since the last
    accepted one, evenly.
    """
    caplog.set_level(logging.INFO)
    frames = day_frames(hours=9, strict_clock=True)
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    meter = meters()
    entry = await async_start(hass, meter)
    coordinator = coordinator_of(entry)
    history = StateLog()
    unlisten = history.listen(hass)

    pushes = [
        (frame.time, misclocked(frame, offset) if index in wrong else frame.data)
        for index, frame in enumerate(frames)
    ]
    await async_push(hass, freezer, meter, entry, pushes)
    unlisten()

    assert coordinator.guard.rejected[reason] == len(wrong)
    assert sum(coordinator.guard.rejected.values()) == len(wrong)
    issue = issue_registry.async_get_issue(
        DOMAIN, f"rejected_register_{entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == f"rejected_register_{reason}"
    assert len(log_lines(caplog, REJECTED, logging.WARNING)) == 1
    accepted = [frame for index, frame in enumerate(frames) if index not in wrong]
    rows = await assert_booked(hass, accepted)
    # One row per real hour of the day, none in the future or two days back.
    assert [start for start, _, _ in rows] == [hour_of(f) for f in frames[:-1]]
    # The energy sensor never showed a misclocked reading.
    shown = history.numbers(hass, str(IMPORT))
    assert set(shown) <= {register(frame) / 1000 for frame in accepted}
    assert not errors_logged(caplog)


# Registers --------------------------------------------------------------------


async def test_repeated_decreasing_and_zero_registers(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    meters: Callable[[], Meter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A resent hour, a lower and a zero register: rejected, sums equal the truth."""
    caplog.set_level(logging.INFO)
    frames = day_frames(hours=9)
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    meter = meters()
    entry = await async_start(hass, meter)
    coordinator = coordinator_of(entry)
    history = StateLog()
    unlisten = history.listen(hass)
    issue_id = f"rejected_register_{entry.entry_id}"

    await async_push(hass, freezer, meter, entry, on_time(frames[:4]))
    assert not issue_registry.async_get_issue(DOMAIN, issue_id)
    # 03:00 again half a minute later, as some Aidon meters resend the hour.
    await async_push(
        hass,
        freezer,
        meter,
        entry,
        [(frames[3].time + timedelta(seconds=30), frames[3].data)],
    )
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "rejected_register_repeated"
    # 04:00 with an import register 5 kWh lower than at 03:00.
    lower = register(frames[3]) - 5000
    await async_push(
        hass,
        freezer,
        meter,
        entry,
        [(frames[4].time, with_register(frames[4], IMPORT, lower))],
    )
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue.translation_key == "rejected_register_decreased"
    await async_push(hass, freezer, meter, entry, on_time(frames[5:7]))
    # 07:00 with the import register at 0.
    await async_push(
        hass,
        freezer,
        meter,
        entry,
        [(frames[7].time, with_register(frames[7], IMPORT, 0))],
    )
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue.translation_key == "rejected_register_zero"
    assert issue.translation_placeholders["count"] == "3"
    await async_push(hass, freezer, meter, entry, on_time(frames[8:]))
    unlisten()

    guard = coordinator.guard
    assert guard.rejected == {
        Rejection.REPEATED: 1,
        Rejection.DECREASED: 1,
        Rejection.ZERO: 1,
        Rejection.IMPLAUSIBLE: 0,
        Rejection.FUTURE: 0,
    }
    assert guard.last is not None
    assert guard.last.values[IMPORT] == register(frames[-1])
    # One warning per kind of rejection; the repair stays (24 good hours clear it).
    assert len(log_lines(caplog, REJECTED, logging.WARNING)) == 3
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    # The missing 04:00 and 07:00 readings: their hours are spread with the next.
    accepted = frames[:4] + frames[5:7] + frames[8:]
    await assert_booked(hass, accepted)
    assert coordinator.statistics.rows_written == 2 * 9
    # The sensors never showed a wrong register, and the last hour is exact.
    shown = history.numbers(hass, str(IMPORT))
    assert shown
    assert set(shown) <= {register(frame) / 1000 for frame in accepted}
    assert float(state(hass, "energy_last_hour") or "nan") == pytest.approx(
        (register(frames[-1]) - register(frames[-2])) / 1000
    )
    assert state(hass, str(IMPORT)) == str(register(frames[-1]) / 1000)
    assert not errors_logged(caplog)


async def test_list3_missed_while_restarting(
    recorder_mock: Any,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: TickingDateTimeFactory,
    meters: Callable[[], Meter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Home Assistant down over 04:00: the hour is spread, nothing lost or doubled."""
    frames = day_frames(hours=6)
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    first = meters()
    entry = await async_start(hass, first)
    await async_push(hass, freezer, first, entry, on_time(frames[:4]))
    before = coordinator_of(entry)
    snapshot, last = before.snapshot, before.guard.last
    assert snapshot is not None
    assert snapshot.values[IMPORT] == register(frames[3])

    # Stopped at 03:30; the meter pushes 04:00 to a port nobody reads.
    freezer.move_to(frames[3].time + timedelta(minutes=30))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    assert stored["snapshot"]["values"][str(IMPORT)] == register(frames[3])
    freezer.move_to(frames[4].time)
    first.write(frames[4].data)

    # Back at 04:20 on the adapter's new name.
    freezer.move_to(frames[4].time + timedelta(minutes=20))
    second = meters()
    await async_start(hass, second, entry)
    after = coordinator_of(entry)
    assert after is not before
    assert after.snapshot == snapshot
    assert after.guard.last == last
    assert state(hass, str(IMPORT)) == STATE_UNAVAILABLE
    await async_push(hass, freezer, second, entry, on_time(frames[5:]))

    accepted = frames[:4] + frames[5:]
    rows = await assert_booked(hass, accepted)
    assert [start for start, _, _ in rows] == [hour_of(f) for f in frames[:-1]]
    # 03:00-04:00 and 04:00-05:00 share the difference from 03:00 to 05:00.
    parts = [rows[3][2] - rows[2][2], rows[4][2] - rows[3][2]]
    assert sum(parts) == register(frames[5]) - register(frames[3])
    assert max(parts) - min(parts) <= 1
    assert sum(after.guard.rejected.values()) == 0
    assert not errors_logged(caplog)


async def test_replaced_meter_keeps_costs_and_peaks(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    meters: Callable[[], Meter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A meter swapped for one with lower registers: no negative hour, no false peak.

    The new meter's first two hours are rejected as lower; the third is taken
    as the new reference for the energy statistics and the priced hours alike,
    so the month's capacity value is the largest real hour.
    """
    caplog.set_level(logging.INFO)
    frames = day_frames(hours=5)
    new = day_frames(DAY + 6 * HOUR, hours=5, seed=1)
    assert register(new[0]) < register(frames[-1])
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    meter = meters()
    options = {
        CONF_GRID_COMPANY: "bkk",
        CONF_TAX_ZONE: "auto",
        CONF_SCHEME: "none",
        CONF_FIXED_PRICE: 0.85,
    }
    entry = await async_start(hass, meter, options=options)
    coordinator = coordinator_of(entry)
    assert coordinator.cost is not None

    await async_push(hass, freezer, meter, entry, on_time(frames + new))

    assert coordinator.guard.rejected[Rejection.DECREASED] == 3
    assert len(log_lines(caplog, "restarted lower", logging.WARNING)) == 1
    hours = [
        (hour_of(before), register(after) - register(before))
        for before, after in [*itertools.pairwise(frames), *itertools.pairwise(new[2:])]
    ]
    energy = as_wh(await async_rows(hass, IMPORT))
    assert [(start, state_wh) for start, state_wh, _ in energy] == [
        (start, register(frame))
        for (start, _), frame in zip(hours, frames[1:] + new[3:], strict=True)
    ]
    costs = await async_rows(hass, None)
    assert [datetime.fromtimestamp(row["start"], UTC) for row in costs] == [
        start for start, _ in hours
    ]
    # Each hour's cost is its energy at a price per kWh between 0.5 and 3 NOK
    # (0.85 NOK plus grid and taxes): no hour carries the swap's difference.
    for row, (_, wh) in zip(costs, hours, strict=True):
        assert row["state"] >= 0
        assert (row["state"] > 0) == (wh > 0)
        if wh:
            assert 0.5 < row["state"] / (wh / 1000) < 3
    largest = max(wh for _, wh in hours) / 1000
    assert float(state(hass, "capacity_value") or "nan") == round(largest, 3)
    assert not errors_logged(caplog)
