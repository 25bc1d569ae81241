"""Hour-correct long-term statistics, written through the real recorder.

A simulated Aidon meter runs for a day in Europe/Oslo. Only its hourly List 3
pushes matter here, so they are decoded and handed to the coordinator's
telegram callback directly while the clock is moved to each push, exactly as
the listener would hand them over (the coordinator resolves the meter clock
against the time of arrival). The entry itself is set up on a real
pseudo-terminal so setup opens a port like it does in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import TickingDateTimeFactory
from homeassistant.components.recorder.statistics import (
    get_last_statistics,
    get_metadata,
    statistics_during_period,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.han_port.const import (
    CONF_BAUDRATE,
    CONF_MODEL,
    CONF_PARITY,
    CONF_PORT,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.han_port.coordinator import HanCoordinator
from custom_components.han_port.han.model import Quantity
from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame
from custom_components.han_port.han.stream import StreamDecoder
from custom_components.han_port.registers import RegisterReading, Rejection
from custom_components.han_port.statistics import HourlyStatistics, statistic_id

from .meter import PtyMeter

ZONE = ZoneInfo("Europe/Oslo")
DAY = datetime(2026, 3, 10, tzinfo=ZONE)
METER_ID = "7359990000000017"
IMPORT = Quantity.ACTIVE_ENERGY_IMPORT
EXPORT = Quantity.ACTIVE_ENERGY_EXPORT
IMPORT_ID = f"{DOMAIN}:{METER_ID}_energy_import"
EXPORT_ID = f"{DOMAIN}:{METER_ID}_energy_export"
REGISTERS = {IMPORT: IMPORT_ID, EXPORT: EXPORT_ID}

# The clock ticks on from wherever a test moves it: opening the port sleeps
# briefly on the event loop, whose clock would stand still if time were frozen.
pytestmark = pytest.mark.freeze_time(tick=True)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_db_url: str, enable_custom_integrations: None
) -> None:
    """Enable custom integrations after the recorder's database is chosen.

    The recorder fixtures must come before ``hass``; the shared autouse fixture
    would create ``hass`` first.
    """


@pytest.fixture(autouse=True)
async def oslo(hass: HomeAssistant) -> None:
    """Run in the meter's time zone."""
    await hass.config.async_set_time_zone("Europe/Oslo")


@pytest.fixture
def pty() -> Iterator[PtyMeter]:
    """Return a pseudo-terminal for the entry's port (nothing is written to it)."""
    meter = PtyMeter(MeterSimulator("aidon", start=DAY))
    yield meter
    meter.close()


@pytest.fixture
def new_pty() -> Iterator[Callable[[], PtyMeter]]:
    """Return a factory of more pseudo-terminals.

    A pseudo-terminal cannot be set up again once serialx has closed it
    (EINVAL), so a restarted entry is moved to a fresh one, as an adapter
    that is plugged in again can get a new name.
    """
    made: list[PtyMeter] = []

    def make() -> PtyMeter:
        made.append(PtyMeter(MeterSimulator("aidon", start=DAY)))
        return made[-1]

    yield make
    for meter in made:
        meter.close()


@cache
def hourly_frames() -> tuple[SimulatedFrame, ...]:
    """Return the List 3 pushes of a sunny day, 00:00 to 24:00 (25 readings)."""
    simulator = MeterSimulator(
        "aidon", start=DAY + timedelta(seconds=5), seed=7, solar_peak_w=6000
    )
    frames = simulator.frames_until(DAY + timedelta(days=1, seconds=30))
    return tuple(frame for frame in frames if frame.list_type == 3)


def hour_end(frame: SimulatedFrame) -> datetime:
    """Return the local hour boundary an hourly push reports (its meter clock)."""
    return frame.time.astimezone(ZONE).replace(minute=0, second=0, microsecond=0)


def register(frame: SimulatedFrame, quantity: Quantity) -> int:
    """Return a register as the frame states it, in Wh."""
    value = frame.truth[quantity]
    assert isinstance(value, int)
    return value


async def async_setup_meter(
    hass: HomeAssistant, pty: PtyMeter, entry: MockConfigEntry | None = None
) -> MockConfigEntry:
    """Set up (or set up again) the meter's entry on the pseudo-terminal."""
    if entry is None:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Aidon 6540",
            unique_id=METER_ID,
            data={
                CONF_PORT: pty.port,
                CONF_BAUDRATE: 2400,
                CONF_PARITY: "E",
                CONF_VENDOR: "aidon",
                CONF_MODEL: "6540",
            },
        )
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


def move_port(hass: HomeAssistant, entry: MockConfigEntry, pty: PtyMeter) -> None:
    """Point an entry at another pseudo-terminal before it is set up again."""
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_PORT: pty.port}
    )


def coordinator_of(entry: MockConfigEntry) -> HanCoordinator:
    """Return the running coordinator of an entry."""
    coordinator = entry.runtime_data
    assert isinstance(coordinator, HanCoordinator)
    return coordinator


async def async_feed(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    entry: MockConfigEntry,
    frames: Iterable[SimulatedFrame],
    *,
    delay: timedelta = timedelta(0),
) -> None:
    """Hand the frames' telegrams to the coordinator at the time each arrives."""
    decoder = StreamDecoder()
    for frame in frames:
        freezer.move_to(frame.time + delay)
        telegrams = decoder.feed(frame.data)
        assert len(telegrams) == 1
        coordinator_of(entry)._telegram(telegrams[0])
    await hass.async_block_till_done()


async def async_rows(hass: HomeAssistant, sid: str) -> list[dict[str, Any]]:
    """Return the hourly rows of a statistic, oldest first, after recording."""
    await async_wait_recording_done(hass)
    found = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        DAY - timedelta(days=1),
        None,
        {sid},
        "hour",
        None,
        {"state", "sum"},
    )
    return [dict(row) for row in found.get(sid, [])]


def row_start(row: dict[str, Any]) -> datetime:
    """Return the local start of a row's hour."""
    return datetime.fromtimestamp(row["start"], ZONE)


def expected_rows(
    readings: list[SimulatedFrame], quantity: Quantity
) -> list[tuple[datetime, int, int]]:
    """Return (hour start in UTC, register Wh, sum Wh) per hour between the readings.

    Consecutive readings an hour apart give that hour's register difference;
    readings further apart spread their difference over the hours between in
    whole watt-hours, the remainder going to the later hours.
    """
    rows: list[tuple[datetime, int, int]] = []
    total = 0
    for before, after in pairwise(readings):
        start, end = hour_end(before).astimezone(UTC), hour_end(after).astimezone(UTC)
        hours = round((end - start) / timedelta(hours=1))
        low, high = register(before, quantity), register(after, quantity)
        done = 0
        for index in range(1, hours + 1):
            part = (high - low) * index // hours - done
            done += part
            total += part
            rows.append((start + (index - 1) * timedelta(hours=1), low + done, total))
    return rows


def as_wh(rows: list[dict[str, Any]]) -> list[tuple[datetime, int, int]]:
    """Return rows as (hour start in UTC, state Wh, sum Wh), checking whole Wh."""
    result = []
    for row in rows:
        state, total = round(row["state"] * 1000), round(row["sum"] * 1000)
        assert (row["state"], row["sum"]) == (state / 1000, total / 1000)
        start = datetime.fromtimestamp(row["start"], UTC)
        result.append((start, state, total))
    return result


async def test_day_is_booked_in_the_hour_that_ended(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    pty: PtyMeter,
) -> None:
    """Each List 3 delta lands in the hour before its meter clock, to the Wh."""
    frames = list(hourly_frames())
    assert len(frames) == 25
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_meter(hass, pty)

    await async_feed(hass, freezer, entry, frames)

    for quantity, sid in REGISTERS.items():
        rows = await async_rows(hass, sid)
        assert len(rows) == 24
        # The first reading is the baseline; the one at 01:00 closes 00:00-01:00.
        assert row_start(rows[0]) == DAY
        assert row_start(rows[-1]) == DAY + timedelta(hours=23)
        previous_sum = 0.0
        for row, before, after in zip(rows, frames[:-1], frames[1:], strict=True):
            # The reading whose clock says 14:00 closes the row starting 13:00.
            assert row_start(row) == hour_end(after) - timedelta(hours=1)
            assert row_start(row) == hour_end(before)
            assert row["state"] == register(after, quantity) / 1000
            delta = register(after, quantity) - register(before, quantity)
            assert round((row["sum"] - previous_sum) * 1000, 6) == delta
            previous_sum = row["sum"]
        # The sum starts at 0 and is the running total of the day.
        total = register(frames[-1], quantity) - register(frames[0], quantity)
        assert rows[-1]["sum"] == total / 1000
        assert as_wh(rows) == expected_rows(frames, quantity)

    # The sun made the export register move, so both statistics carry energy.
    assert register(frames[-1], EXPORT) > register(frames[0], EXPORT)
    assert register(frames[-1], IMPORT) > register(frames[0], IMPORT)
    assert coordinator_of(entry).statistics.rows_written == 48

    # Spelled out for one hour: the push at 14:00:10 with the meter clock at
    # 14:00 is 13:00-14:00's energy, booked in the row starting 13:00.
    fourteen = frames[14]
    assert fourteen.time.astimezone(ZONE).strftime("%H:%M:%S") == "14:00:10"
    rows = await async_rows(hass, IMPORT_ID)
    thirteen = rows[13]
    assert row_start(thirteen) == DAY.replace(hour=13)
    assert thirteen["state"] == register(fourteen, IMPORT) / 1000
    assert round((thirteen["sum"] - rows[12]["sum"]) * 1000, 6) == register(
        fourteen, IMPORT
    ) - register(frames[13], IMPORT)
    # The first row's sum is its own energy: the sums start at 0.
    assert rows[0]["sum"] * 1000 == pytest.approx(
        register(frames[1], IMPORT) - register(frames[0], IMPORT)
    )


async def test_statistic_ids_and_metadata(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    pty: PtyMeter,
) -> None:
    """External statistics are named after the meter and sum kWh."""
    frames = hourly_frames()[:3]
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_meter(hass, pty)
    await async_feed(hass, freezer, entry, frames)
    await async_wait_recording_done(hass)

    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={IMPORT_ID, EXPORT_ID})
    )
    assert set(metadata) == {IMPORT_ID, EXPORT_ID}
    for sid, suffix in ((IMPORT_ID, "import"), (EXPORT_ID, "export")):
        meta = metadata[sid][1]
        assert meta["statistic_id"] == sid
        assert meta["source"] == DOMAIN
        assert meta["has_sum"] is True
        assert meta["unit_of_measurement"] == "kWh"
        assert meta["unit_class"] == "energy"
        assert meta["name"] == f"Aidon 6540 energy {suffix}"
        assert not meta.get("has_mean")


@pytest.mark.parametrize(
    ("meter_id", "expected"),
    [
        ("7359990000000017", "han_port:7359990000000017_energy_import"),
        ("MA304H4", "han_port:ma304h4_energy_import"),
        ("KFM-001 / 0017", "han_port:kfm_001_0017_energy_import"),
        ("_E0025-1_", "han_port:e0025_1_energy_import"),
        ("ÆØÅ", "han_port:meter_energy_import"),
    ],
)
def test_statistic_id(meter_id: str, expected: str) -> None:
    """Ids are the lowercased meter id with other characters made underscores."""
    assert statistic_id(meter_id, IMPORT) == expected
    assert statistic_id(meter_id, EXPORT) == expected.replace("import", "export")


@pytest.mark.parametrize("wait", [True, False], ids=["recorded", "queued"])
async def test_restart_continues_the_sums(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    pty: PtyMeter,
    new_pty: Callable[[], PtyMeter],
    wait: bool,
) -> None:
    """A reload mid-day resumes from the last row: same rows as without it.

    ``queued`` reloads right after a reading, before the recorder has written
    that hour's rows, as an options change just after the hour would.
    """
    frames = list(hourly_frames())
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_meter(hass, pty)
    await async_feed(hass, freezer, entry, frames[:10])
    if wait:
        await async_wait_recording_done(hass)
    freezer.move_to(frames[9].time + timedelta(minutes=20))
    move_port(hass, entry, new_pty())
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    await async_feed(hass, freezer, entry, frames[10:])

    for quantity, sid in REGISTERS.items():
        assert as_wh(await async_rows(hass, sid)) == expected_rows(frames, quantity)


async def test_home_assistant_down_for_three_hours(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    pty: PtyMeter,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """Hours missed while stopped are filled evenly from the register difference."""
    frames = list(hourly_frames())
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_meter(hass, pty)
    await async_feed(hass, freezer, entry, frames[:11])  # up to 10:00
    await async_wait_recording_done(hass)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    # Stopped over 11:00, 12:00 and 13:00; back at 13:30.
    freezer.move_to(frames[13].time + timedelta(minutes=30))
    move_port(hass, entry, new_pty())
    await async_setup_meter(hass, pty, entry)
    await async_feed(hass, freezer, entry, frames[14:])

    fed = frames[:11] + frames[14:]
    for quantity, sid in REGISTERS.items():
        rows = as_wh(await async_rows(hass, sid))
        assert rows == expected_rows(fed, quantity)
        assert [start.astimezone(ZONE).hour for start, _, _ in rows] == list(range(24))
        # 10:00-14:00: the reading at 14:00 closes four hours, the three missed
        # and the one before the stop, in even parts.
        parts = [rows[hour][2] - rows[hour - 1][2] for hour in range(10, 14)]
        delta = register(frames[14], quantity) - register(frames[10], quantity)
        assert sum(parts) == delta
        assert max(parts) - min(parts) <= 1
        assert rows[13][1] == register(frames[14], quantity)
        # The day's total is unchanged by the stop.
        total = register(frames[-1], quantity) - register(frames[0], quantity)
        assert rows[-1][2] == total


async def test_three_hours_without_list_3_while_running(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    pty: PtyMeter,
) -> None:
    """Missed hourly pushes while running are spread over the hours they cover."""
    frames = list(hourly_frames())
    fed = frames[:5] + frames[8:]  # no 05:00, 06:00 or 07:00 reading
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_meter(hass, pty)
    await async_feed(hass, freezer, entry, fed)

    for quantity, sid in REGISTERS.items():
        rows = as_wh(await async_rows(hass, sid))
        assert rows == expected_rows(fed, quantity)
        assert [start.astimezone(ZONE).hour for start, _, _ in rows] == list(range(24))
        parts = [rows[hour][2] - rows[hour - 1][2] for hour in range(4, 8)]
        delta = register(frames[8], quantity) - register(frames[4], quantity)
        assert sum(parts) == delta
        assert max(parts) - min(parts) <= 1


@pytest.mark.parametrize(
    "delay", [timedelta(0), timedelta(seconds=30), timedelta(hours=1)]
)
async def test_repeated_list_3_is_not_counted_twice(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    pty: PtyMeter,
    delay: timedelta,
) -> None:
    """The same hourly push again (at once, later, or in place of the next) adds nothing."""
    frames = list(hourly_frames())
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_meter(hass, pty)
    coordinator = coordinator_of(entry)
    await async_feed(hass, freezer, entry, frames[:6])
    written = coordinator.statistics.rows_written

    await async_feed(hass, freezer, entry, frames[5:6], delay=delay)

    assert coordinator.statistics.rows_written == written
    assert coordinator.guard.rejected[Rejection.REPEATED] == 1
    assert issue_registry.async_get_issue(DOMAIN, f"rejected_register_{entry.entry_id}")
    fed = frames[:6] + frames[7:] if delay >= timedelta(hours=1) else frames
    await async_feed(hass, freezer, entry, fed[6:])
    for quantity, sid in REGISTERS.items():
        assert as_wh(await async_rows(hass, sid)) == expected_rows(fed, quantity)


async def test_resume_from_stored_snapshot_without_rows(
    recorder_mock: Any,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: TickingDateTimeFactory,
    pty: PtyMeter,
) -> None:
    """A stored hourly reading is the baseline when no statistics exist yet.

    That is the first start with the recorder after running without it: the
    first reading after the start already closes an hour, from a 0 sum.
    """
    frames = list(hourly_frames())
    snapshot = RegisterReading(
        clock=hour_end(frames[3]).astimezone(UTC),
        stated=hour_end(frames[3]).replace(tzinfo=UTC).isoformat(),
        values={q: float(register(frames[3], q)) for q in REGISTERS},
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Aidon 6540",
        unique_id=METER_ID,
        data={CONF_PORT: pty.port, CONF_VENDOR: "aidon"},
    )
    entry.add_to_hass(hass)
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {"guard": snapshot.as_dict(), "snapshot": snapshot.as_dict()},
    }
    freezer.move_to(frames[3].time + timedelta(minutes=5))
    await async_setup_meter(hass, pty, entry)

    await async_feed(hass, freezer, entry, frames[4:6])

    for quantity, sid in REGISTERS.items():
        assert as_wh(await async_rows(hass, sid)) == expected_rows(
            frames[3:6], quantity
        )


async def test_replaced_meter_continues_the_sums(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    pty: PtyMeter,
) -> None:
    """After a meter swap the new registers become the reference, sums go on."""
    frames = list(hourly_frames())
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_meter(hass, pty)
    await async_feed(hass, freezer, entry, frames[:6])
    sums = {sid: (await async_rows(hass, sid))[-1]["sum"] for sid in REGISTERS.values()}

    # The new meter (same id, as a grid company's replacement keeps the
    # point of delivery) starts with lower registers.
    new = MeterSimulator(
        "aidon", start=DAY + timedelta(hours=6), seed=1, solar_peak_w=6000
    )
    replaced = [
        f for f in new.frames_until(DAY + timedelta(hours=12)) if f.list_type == 3
    ]
    assert register(replaced[0], IMPORT) < register(frames[5], IMPORT)
    await async_feed(hass, freezer, entry, replaced)

    coordinator = coordinator_of(entry)
    assert coordinator.guard.rejected[Rejection.DECREASED] == 3
    for quantity, sid in REGISTERS.items():
        rows = as_wh(await async_rows(hass, sid))
        before = [row for row in rows if row[0] < DAY + timedelta(hours=5)]
        after = [row for row in rows if row[0] >= DAY + timedelta(hours=8)]
        assert before[-1][2] == round(sums[sid] * 1000)
        # 06:00 and 07:00 were rejected, 08:00 rebased: rows go on from 08:00.
        assert [start.astimezone(ZONE).hour for start, _, _ in after] == [8, 9, 10]
        assert after == [
            (start, state, total + before[-1][2])
            for start, state, total in expected_rows(replaced[2:], quantity)
        ]


async def test_booking_edges(recorder_mock: Any, hass: HomeAssistant) -> None:
    """An hour already booked, a register a meter lacks, a rebase of a new one."""
    statistics = HourlyStatistics(hass, METER_ID, "Meter")
    assert statistics.enabled
    hour = DAY.replace(hour=11).astimezone(UTC)
    later = hour + timedelta(hours=1)

    # The first reading is the baseline: no row.
    assert statistics.book(hour, RegisterReading(hour, "a", {IMPORT: 1000.0})) == 0
    # A reading for an hour already booked (the store lagging the statistics
    # after a crash) writes nothing.
    assert statistics.book(hour, RegisterReading(hour, "b", {IMPORT: 2000.0})) == 0
    # A meter without an export register books import only.
    assert statistics.book(later, RegisterReading(later, "c", {IMPORT: 1500.0})) == 1
    assert EXPORT not in statistics.last
    assert statistics.rows_written == 1

    # A rebase keeps the sum and takes registers first seen from a 0 sum.
    statistics.rebase(later, RegisterReading(later, "d", {IMPORT: 10.0, EXPORT: 5.0}))
    assert statistics.last == {
        IMPORT: (later, 10.0, 500.0),
        EXPORT: (later, 5.0, 0.0),
    }
    statistics.rebase(later, RegisterReading(later, "e", {IMPORT: 20.0}))
    assert statistics.last[EXPORT] == (later, 5.0, 0.0)

    await async_wait_recording_done(hass)
    found = await get_instance(hass).async_add_executor_job(
        get_last_statistics, hass, 1, IMPORT_ID, True, {"state", "sum"}
    )
    assert found[IMPORT_ID][0]["start"] == hour.timestamp()
    assert found[IMPORT_ID][0]["sum"] == 0.5
    assert found[IMPORT_ID][0]["state"] == 1.5


async def test_no_recorder_no_statistics(
    hass: HomeAssistant, freezer: TickingDateTimeFactory, pty: PtyMeter
) -> None:
    """Without the recorder the meter works and no statistics are written."""
    frames = list(hourly_frames())[:4]
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_meter(hass, pty)
    assert "recorder" not in hass.config.components
    coordinator = coordinator_of(entry)

    await async_feed(hass, freezer, entry, frames)

    assert not coordinator.statistics.enabled
    assert coordinator.statistics.rows_written == 0
    assert coordinator.statistics.last == {}
    assert coordinator.snapshot is not None
    assert coordinator.values[IMPORT] == register(frames[-1], IMPORT)


@cache
def dst_frames(vendor: str, day: datetime) -> tuple[SimulatedFrame, ...]:
    """Return the List 3 pushes from 00:00 to 06:00 local of a clock-change night."""
    simulator = MeterSimulator(vendor, start=day + timedelta(seconds=5), seed=3)
    end = day.replace(hour=6).astimezone(UTC) + timedelta(seconds=30)
    frames = simulator.frames_until(end)
    return tuple(frame for frame in frames if frame.list_type == 3)


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (datetime(2026, 3, 29, tzinfo=ZONE), [0, 1, 3, 4, 5]),
        (datetime(2026, 10, 25, tzinfo=ZONE), [0, 1, 2, 2, 3, 4, 5]),
    ],
    ids=["spring", "autumn"],
)
@pytest.mark.parametrize("vendor", ["aidon", "kaifa"])
async def test_clock_change_days(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    pty: PtyMeter,
    day: datetime,
    hours: list[int],
    vendor: str,
) -> None:
    """The nights the clocks change get one exact row per real hour.

    Aidon (deviation 0 on wall time) and Kaifa (no deviation) state 02:00
    twice the night the clocks go back; the second is the next hour, not a
    resend.
    """
    frames = list(dst_frames(vendor, day))
    assert len(frames) == len(hours) + 1
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_meter(hass, pty)

    await async_feed(hass, freezer, entry, frames)

    assert sum(coordinator_of(entry).guard.rejected.values()) == 0
    assert not issue_registry.async_get_issue(
        DOMAIN, f"rejected_register_{entry.entry_id}"
    )
    rows = as_wh(await async_rows(hass, IMPORT_ID))
    assert rows == expected_rows(frames, IMPORT)
    assert [start.astimezone(ZONE).hour for start, _, _ in rows] == hours
    assert [start for start, _, _ in rows] == [
        day.astimezone(UTC) + index * timedelta(hours=1) for index in range(len(hours))
    ]
