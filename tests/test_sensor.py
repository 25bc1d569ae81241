"""Sensors of a meter behind a real pseudo-terminal, through Home Assistant.

The simulated meter writes byte-exact frames into a pty that the integration
opens with serialx, exactly as it opens a USB adapter. Frames are generated
around the real present time because the coordinator stamps arrival with
``dt_util.utcnow()``. List 3 frames whose hour lies in the past are written
with a DLMS-strict clock (real UTC deviation), which resolves to the same
instant however far it is from the arrival time; Aidon's own convention
(deviation 0 on a local clock) is resolved against the arrival time and is
exercised with the next hour, which it always resolves correctly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
import termios
import time
from types import SimpleNamespace
from typing import Any, cast
from unittest.mock import patch
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    STATE_UNAVAILABLE,
    EntityCategory,
)
from homeassistant.core import (
    Event,
    EventStateChangedData,
    EventStateReportedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.entity import EntityDescription
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockEntityPlatform,
    async_fire_time_changed,
    mock_restore_cache_with_extra_data,
)

from custom_components.han_port.const import (
    CONF_BAUDRATE,
    CONF_CURRENT_SCALE,
    CONF_ENERGY_SCALE,
    CONF_PARITY,
    CONF_PORT,
    CONF_POWER_SCALE,
    CONF_VENDOR,
    DOMAIN,
    ERROR_WINDOW_SECONDS,
)
from custom_components.han_port.coordinator import Derived, HanCoordinator
from custom_components.han_port.entity import HanEntity
from custom_components.han_port.han.encoder import (
    I8,
    I16,
    U16,
    U32,
    DateTime,
    Encodable,
    Enum,
    data_notification,
    hdlc_frames,
    with_llc,
)
from custom_components.han_port.han.model import Quantity
from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame
from custom_components.han_port.han.stream import StreamDecoder
from custom_components.han_port.sensor import FIXED_SENSORS, QUANTITY_SENSORS, HanSensor

from .meter import PtyMeter, next_slot, wait_for

OSLO = ZoneInfo("Europe/Oslo")
HOUR = timedelta(hours=1)
METER_ID = "7359990000000017"
TITLE = "Aidon 6525"
IMPORT = Quantity.ACTIVE_ENERGY_IMPORT
EXPORT = Quantity.ACTIVE_ENERGY_EXPORT
REACTIVE_IMPORT = Quantity.REACTIVE_ENERGY_IMPORT
REACTIVE_EXPORT = Quantity.REACTIVE_ENERGY_EXPORT
LOGGER_NAME = "custom_components.han_port"


# The meter --------------------------------------------------------------------


class LineMeter(PtyMeter):
    """A pty meter whose line settings can be put back as a new device has them.

    With the glibc this Python runs on (2.43), serialx cannot configure a tty
    that it configured before (tcsetattr fails with EINVAL), so a reopened
    pty would never come back; a real adapter plugged in again starts from its
    defaults, which ``reset_line`` restores.
    """

    def __init__(self, simulator: MeterSimulator) -> None:
        """Open the pty and remember its pristine settings."""
        super().__init__(simulator)
        self.fresh = termios.tcgetattr(self.slave)

    def reset_line(self) -> None:
        """Restore the settings the pty had before anything opened it."""
        termios.tcsetattr(self.slave, termios.TCSANOW, self.fresh)


def _obis(code: str) -> bytes:
    return bytes(int(part) for part in code.split("."))


def _item(code: str, value: Encodable, scaler: int, unit: int) -> Encodable:
    return (_obis(code), value, (I8(scaler), Enum(unit)))


def aidon_frame(items: list[Encodable]) -> bytes:
    """Return one Aidon-shaped push (HDLC, LLC, data-notification) of ``items``."""
    apdu = data_notification(items, invoke_id=0x40000000)
    return b"".join(hdlc_frames(with_llc(apdu)))


def power_frame(watts: int) -> bytes:
    """Return an Aidon List 1: active power import only."""
    return aidon_frame([_item("1.0.1.7.0.255", U32(watts), 0, 27)])


def identity() -> list[Encodable]:
    """Return the items with which Aidon lists 2 and 3 start."""
    return [
        (_obis("1.1.0.2.129.255"), "AIDON_V0001"),
        (_obis("0.0.96.1.0.255"), METER_ID),
        (_obis("0.0.96.1.7.255"), "6540"),
    ]


def list3_frame(
    clock: datetime, registers: dict[Quantity, int], *, watts: int = 1000
) -> bytes:
    """Return an Aidon List 3 with a DLMS-strict clock at ``clock`` (aware)."""
    codes = {
        IMPORT: ("1.0.1.8.0.255", 30),
        EXPORT: ("1.0.2.8.0.255", 30),
        REACTIVE_IMPORT: ("1.0.3.8.0.255", 32),
        REACTIVE_EXPORT: ("1.0.4.8.0.255", 32),
    }
    items = [
        *identity(),
        _item("1.0.1.7.0.255", U32(watts), 0, 27),
        (_obis("0.0.1.0.0.255"), DateTime.in_zone(clock, OSLO).raw()),
    ]
    for quantity, value in registers.items():
        code, unit = codes[quantity]
        items.append(_item(code, U32(value), 0, unit))
    return aidon_frame(items)


def garbled(data: bytes) -> bytes:
    """Return a frame with one payload byte flipped, so its checksum fails."""
    middle = len(data) // 2
    return data[:middle] + bytes((data[middle] ^ 0x5A,)) + data[middle + 1 :]


def present_hour() -> datetime:
    """Return the start of the present hour (UTC; Oslo hours are UTC hours)."""
    return dt_util.utcnow().replace(minute=0, second=0, microsecond=0)


def hour_frames(
    last_hour: datetime, hours: int = 1, *, seed: int = 3, strict: bool = True
) -> list[SimulatedFrame]:
    """Return the List 3 pushes at the ``hours + 1`` boundaries up to ``last_hour``."""
    simulator = MeterSimulator(
        "aidon",
        start=last_hour - hours * HOUR - timedelta(seconds=20),
        seed=seed,
        strict_clock=strict,
    )
    frames = simulator.frames_until(last_hour + timedelta(seconds=15))
    return [frame for frame in frames if frame.list_type == 3]


# The Home Assistant side ------------------------------------------------------


@dataclass
class Rig:
    """One config entry reading one pty meter."""

    hass: HomeAssistant
    meter: LineMeter
    entry: MockConfigEntry
    now: datetime

    @property
    def coordinator(self) -> HanCoordinator:
        """Return the entry's coordinator."""
        return self.entry.runtime_data

    def entity_id(self, key: str) -> str | None:
        """Return the entity id of a sensor key, if it is registered."""
        return er.async_get(self.hass).async_get_entity_id(
            "sensor", DOMAIN, f"{METER_ID}_{key}"
        )

    def state(self, key: str) -> State | None:
        """Return the state of a sensor key."""
        entity_id = self.entity_id(key)
        return None if entity_id is None else self.hass.states.get(entity_id)

    def value(self, key: str) -> float:
        """Return the numeric state of a sensor key."""
        state = self.state(key)
        assert state is not None, key
        return float(state.state)

    async def send(self, *pushes: SimulatedFrame | bytes) -> None:
        """Write pushes one by one, each read by the listener before the next."""
        stats = self.coordinator.listener.stats
        for push in pushes:
            data = push.data if isinstance(push, SimulatedFrame) else push
            expected = stats.bytes_received + len(data)
            self.meter.write(data)
            await wait_for(lambda expected=expected: stats.bytes_received >= expected)
        await self.hass.async_block_till_done()

    async def reopened(self) -> None:
        """Wait until the listener has opened the port again after a loss."""
        listener = self.coordinator.listener
        connects = listener.stats.connects
        self.meter.reset_line()
        await wait_for(lambda: listener.stats.connects > connects)

    async def live_frames(self, seconds: float = 30) -> list[SimulatedFrame]:
        """Return the meter's next pushes (List 1 and 2) for ``seconds``.

        A List 3 in the window (a test started just after the hour) is left
        out: tests send their own hourly lists and count what they book.
        """
        self.now += timedelta(seconds=seconds)
        return [frame for frame in self.meter.frames(self.now) if frame.list_type != 3]


type RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture(autouse=True)
async def oslo(hass: HomeAssistant) -> None:
    """Run Home Assistant in Norwegian time, as the meters are."""
    await hass.config.async_set_time_zone("Europe/Oslo")


@pytest.fixture
async def make_rig(hass: HomeAssistant) -> AsyncIterator[RigFactory]:
    """Return a factory that sets up a meter entry; all are unloaded afterwards."""
    rigs: list[Rig] = []

    async def make(
        *, options: dict[str, Any] | None = None, setup: bool = True, **data: Any
    ) -> Rig:
        # Keep a test off an hour boundary: the live hour would close under it.
        to_next_hour = present_hour() + HOUR - dt_util.utcnow()
        if to_next_hour < timedelta(seconds=20):
            await hass.async_add_executor_job(
                time.sleep, to_next_hour.total_seconds() + 1
            )
        now = dt_util.utcnow().replace(microsecond=0)
        meter = LineMeter(
            MeterSimulator("aidon", start=now - timedelta(seconds=30), seed=3)
        )
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=TITLE,
            unique_id=METER_ID,
            data={
                CONF_PORT: meter.port,
                CONF_BAUDRATE: 2400,
                CONF_PARITY: "E",
                CONF_VENDOR: "aidon",
                **data,
            },
            options=options or {},
        )
        entry.add_to_hass(hass)
        rig = Rig(hass, meter, entry, now)
        rigs.append(rig)
        if setup:
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
        return rig

    yield make
    for rig in rigs:
        if rig.entry.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(rig.entry.entry_id)
            await hass.async_block_till_done()
        rig.meter.close()


def warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    """Return the integration's warning lines that contain ``text``."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(LOGGER_NAME)
        and record.levelno == logging.WARNING
        and text in record.getMessage()
    ]


def infos(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    """Return the integration's info lines that contain ``text``."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(LOGGER_NAME)
        and record.levelno == logging.INFO
        and text in record.getMessage()
    ]


# Entities and values ----------------------------------------------------------


async def test_entities_follow_what_the_meter_sends(make_rig: RigFactory) -> None:
    """Only the fixed sensors exist at first; each list adds its own sensors."""
    rig = await make_rig()
    fixed = {description.key for description in FIXED_SENSORS}
    registered = {
        entry.unique_id.removeprefix(f"{METER_ID}_")
        for entry in er.async_entries_for_config_entry(
            er.async_get(rig.hass), rig.entry.entry_id
        )
    }
    assert registered == fixed
    assert rig.state("energy_this_hour").state == STATE_UNAVAILABLE

    frames = await rig.live_frames(0)
    list1 = [frame for frame in frames if frame.list_type == 1]
    list2 = [frame for frame in frames if frame.list_type == 2]
    await rig.send(list1[0])
    power = rig.state("active_power_import")
    assert power is not None
    assert float(power.state) == list1[0].truth[Quantity.ACTIVE_POWER_IMPORT]
    assert power.attributes[ATTR_UNIT_OF_MEASUREMENT] == "W"
    assert power.attributes[ATTR_DEVICE_CLASS] == "power"
    assert power.attributes["state_class"] == "measurement"
    assert rig.entity_id("voltage_l1") is None

    await rig.send(list2[-1])
    truth = list2[-1].truth
    for key, unit in (
        ("voltage_l1", "V"),
        ("voltage_l2", "V"),
        ("voltage_l3", "V"),
        ("current_l1", "A"),
        ("current_l3", "A"),
        ("reactive_power_import", "var"),
        ("active_power_export", "W"),
    ):
        state = rig.state(key)
        assert state is not None, key
        assert float(state.state) == pytest.approx(truth[Quantity(key)]), key
        assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == unit
    # A three-wire (IT) Aidon measures two currents: no L2 current sensor.
    assert rig.entity_id("current_l2") is None
    assert rig.entity_id(str(IMPORT)) is None
    assert rig.state("energy_this_hour").state != STATE_UNAVAILABLE


async def test_list3_registers_in_kwh(make_rig: RigFactory) -> None:
    """List 3 registers (Wh, varh) become kWh/kvarh sensors; last hour is exact."""
    rig = await make_rig()
    first, second = hour_frames(present_hour())
    await rig.send(first)
    energy = rig.state(str(IMPORT))
    assert energy is not None
    assert float(energy.state) == pytest.approx(first.truth[IMPORT] / 1000)
    assert energy.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kWh"
    assert energy.attributes[ATTR_DEVICE_CLASS] == "energy"
    assert energy.attributes["state_class"] == "total_increasing"
    reactive = rig.state(str(REACTIVE_IMPORT))
    assert reactive is not None
    assert float(reactive.state) == first.truth[REACTIVE_IMPORT] / 1000
    assert reactive.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kvarh"
    assert rig.value(str(EXPORT)) == first.truth[EXPORT] / 1000
    assert rig.state("energy_last_hour").state == "unknown"

    await rig.send(second)
    assert rig.value(str(IMPORT)) == second.truth[IMPORT] / 1000
    difference = second.truth[IMPORT] - first.truth[IMPORT]
    assert difference > 0
    last_hour = rig.state("energy_last_hour")
    assert float(last_hour.state) == pytest.approx(difference / 1000)
    assert last_hour.attributes["from_registers"] is True
    assert last_hour.attributes["hour_start"] == (present_hour() - HOUR).isoformat()
    clock = rig.state("meter_clock")
    assert clock is not None
    assert dt_util.parse_datetime(clock.state) == present_hour()
    assert clock.attributes[ATTR_DEVICE_CLASS] == "timestamp"


async def test_aidon_local_clock_resolves(make_rig: RigFactory) -> None:
    """Aidon's deviation-0 clock is read as Norwegian wall time."""
    rig = await make_rig()
    next_hour = present_hour() + HOUR
    (_, frame) = hour_frames(next_hour, strict=False)
    stated = frame.truth[Quantity.METER_CLOCK]
    assert isinstance(stated, datetime)
    assert stated.utcoffset() == timedelta(0)
    assert stated.replace(tzinfo=OSLO) == next_hour
    await rig.send(frame)
    assert rig.coordinator.meter_clock == next_hour
    clock = rig.state("meter_clock")
    assert dt_util.parse_datetime(clock.state) == next_hour


async def test_power_factor_and_frequency(make_rig: RigFactory) -> None:
    """Power factor is shown in percent, frequency in hertz; per phase is off."""
    rig = await make_rig()
    frame = aidon_frame(
        [
            *identity(),
            _item("1.0.1.7.0.255", U32(1500), 0, 27),
            _item("1.0.13.7.0.255", I16(950), -3, 255),
            _item("1.0.33.7.0.255", I16(870), -3, 255),
            _item("1.0.14.7.0.255", U16(5002), -2, 44),
            _item("1.0.32.7.0.255", U16(2301), -1, 35),
        ]
    )
    await rig.send(frame)
    power_factor = rig.state("power_factor")
    assert float(power_factor.state) == 95
    assert power_factor.attributes[ATTR_UNIT_OF_MEASUREMENT] == "%"
    assert power_factor.attributes[ATTR_DEVICE_CLASS] == "power_factor"
    frequency = rig.state("frequency")
    assert float(frequency.state) == 50.02
    assert frequency.attributes[ATTR_UNIT_OF_MEASUREMENT] == "Hz"
    assert rig.value("voltage_l1") == 230.1
    per_phase = er.async_get(rig.hass).async_get(rig.entity_id("power_factor_l1"))
    assert per_phase.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert rig.state("power_factor_l1") is None


async def test_device_info(make_rig: RigFactory) -> None:
    """The device is the meter: maker, model, meter number and list version."""
    rig = await make_rig()
    (device,) = dr.async_entries_for_config_entry(
        dr.async_get(rig.hass), rig.entry.entry_id
    )
    assert device.identifiers == {(DOMAIN, METER_ID)}
    assert device.manufacturer == "Aidon"
    assert device.serial_number == METER_ID
    assert device.name == TITLE
    assert device.model is None
    assert device.sw_version is None
    frames = await rig.live_frames(0)
    await rig.send(next(frame for frame in frames if frame.list_type == 2))
    device = dr.async_get(rig.hass).async_get(device.id)
    assert device.model == "6540"
    assert device.sw_version == "AIDON_V0001"
    assert device.serial_number == METER_ID
    entity = er.async_get(rig.hass).async_get(rig.entity_id("voltage_l1"))
    assert entity.device_id == device.id


async def test_diagnostic_counters_disabled_by_default(make_rig: RigFactory) -> None:
    """Counters are diagnostic and disabled; the meter clock is diagnostic only."""
    rig = await make_rig()
    registry = er.async_get(rig.hass)
    for key in ("frames", "checksum_errors", "reconnects", "rejected_registers"):
        entity = registry.async_get(rig.entity_id(key))
        assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION, key
        assert entity.entity_category is EntityCategory.DIAGNOSTIC
        assert rig.state(key) is None
    (frame,) = hour_frames(present_hour(), hours=0)
    await rig.send(frame)
    clock = registry.async_get(rig.entity_id("meter_clock"))
    assert clock.entity_category is EntityCategory.DIAGNOSTIC
    assert clock.disabled_by is None


async def test_diagnostic_counters_count(
    hass: HomeAssistant, make_rig: RigFactory, short_slots: None
) -> None:
    """Enabled counters show frames, checksum errors and rejected registers."""
    registry = er.async_get(hass)
    rig = await make_rig(setup=False)
    for key in ("frames", "checksum_errors", "reconnects", "rejected_registers"):
        registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{METER_ID}_{key}",
            config_entry=rig.entry,
            suggested_object_id=f"han_{key}",
        )
    assert await hass.config_entries.async_setup(rig.entry.entry_id)
    await hass.async_block_till_done()
    frames = await rig.live_frames()
    (hourly,) = hour_frames(present_hour(), hours=0)
    await rig.send(*frames, garbled(frames[0].data), hourly)
    # Counters are written at the cadence of the derived values.
    await next_slot()
    await rig.send(hourly)
    assert rig.value("frames") == len(frames) + 2
    assert rig.value("checksum_errors") == 1
    assert rig.value("rejected_registers") == 1
    assert rig.value("reconnects") == 0


async def test_scale_factors(make_rig: RigFactory) -> None:
    """Options for current transformers multiply power, current and energy."""
    rig = await make_rig(
        options={CONF_POWER_SCALE: 2, CONF_CURRENT_SCALE: 40, CONF_ENERGY_SCALE: 3}
    )
    (frame,) = hour_frames(present_hour(), hours=0)
    await rig.send(frame)
    truth = frame.truth
    assert rig.value("active_power_import") == 2 * truth[Quantity.ACTIVE_POWER_IMPORT]
    assert rig.value("reactive_power_import") == pytest.approx(
        2 * truth[Quantity.REACTIVE_POWER_IMPORT]
    )
    assert rig.value("current_l1") == pytest.approx(40 * truth[Quantity.CURRENT_L1])
    assert rig.value("voltage_l1") == pytest.approx(truth[Quantity.VOLTAGE_L1])
    assert rig.value(str(IMPORT)) == pytest.approx(3 * truth[IMPORT] / 1000)
    assert rig.value(str(REACTIVE_IMPORT)) == pytest.approx(
        3 * truth[REACTIVE_IMPORT] / 1000
    )


async def test_energy_this_hour_and_projection(
    make_rig: RigFactory, short_slots: None
) -> None:
    """Power is integrated over the running hour and projected to its end."""
    rig = await make_rig()
    await rig.send(power_frame(3600))
    started = dt_util.utcnow()
    assert rig.value("energy_this_hour") == 0
    # A second: a new slot of the derived values.
    await rig.hass.async_add_executor_job(time.sleep, 1.0)
    await rig.send(power_frame(3600))
    elapsed = (dt_util.utcnow() - started).total_seconds()
    live = rig.coordinator.live
    # 3600 W is 1 Wh a second.
    assert 0.95 <= live.energy_wh <= elapsed + 0.1
    this_hour = rig.state("energy_this_hour")
    assert float(this_hour.state) == round(live.energy_wh / 1000, 4)
    assert this_hour.attributes["state_class"] == "total"
    assert dt_util.parse_datetime(this_hour.attributes["last_reset"]) == present_hour()
    # Projection: energy so far plus 1 Wh for each second left in the hour.
    left = (present_hour() + HOUR - dt_util.utcnow()).total_seconds()
    projected = rig.value("projected_energy_this_hour")
    assert projected == pytest.approx((live.energy_wh + left) / 1000, abs=0.002)
    await next_slot()
    await rig.send(power_frame(0))
    assert rig.value("projected_energy_this_hour") == pytest.approx(
        round(live.energy_wh / 1000, 4), abs=0.0001
    )


async def test_derived_values_are_written_once_per_slot(
    hass: HomeAssistant, make_rig: RigFactory
) -> None:
    """The power follows every push; the derived values every ten seconds.

    And at once when the data stops: unavailability does not wait for the slot.
    """
    rig = await make_rig()
    await rig.send(power_frame(1))  # the first push adds the power sensor
    decoder = StreamDecoder()
    hour = present_hour() + HOUR
    start = hour + timedelta(minutes=10)
    power = rig.entity_id("active_power_import")
    this_hour = rig.entity_id("energy_this_hour")
    written: list[tuple[str, str]] = []

    @callback
    def changed(event: Event[EventStateChangedData]) -> None:
        if (new := event.data["new_state"]) is not None:
            written.append((event.data["entity_id"], new.state))

    def push(at: datetime, watts: int) -> None:
        (telegram,) = decoder.feed(power_frame(watts))
        with patch.object(dt_util, "utcnow", return_value=at):
            rig.coordinator._telegram(telegram)

    def shown(entity: str | None) -> list[str]:
        return [value for found, value in written if found == entity]

    calls: Counter[Derived] = Counter()
    for cadence in Derived:
        rig.coordinator.async_add_listener(
            lambda cadence=cadence: calls.update((cadence,)), cadence
        )
    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, changed)
    # Five pushes 2 s apart in one ten-second slot.
    for index in range(5):
        push(start + timedelta(seconds=2 * index), 3600 + index)
    assert [float(value) for value in shown(power)] == [3600, 3601, 3602, 3603, 3604]
    assert len(shown(this_hour)) == 1
    # The first push after setup is a new hour for the derived values.
    assert calls == {Derived.SLOT: 1, Derived.HOUR: 1}
    push(start + timedelta(seconds=10), 3605)
    assert len(shown(this_hour)) == 2
    # 3600 W and up for 10 s: 10 Wh.
    assert float(shown(this_hour)[-1]) == pytest.approx(0.01, abs=0.0001)
    # What only an hour changes is not worked out again for a new slot.
    assert calls == {Derived.SLOT: 2, Derived.HOUR: 1}

    # A new hour starts a new slot: the energy starts again from zero.
    push(hour + HOUR, 3605)
    assert len(shown(this_hour)) == 3
    assert float(shown(this_hour)[-1]) == 0
    assert calls == {Derived.SLOT: 3, Derived.HOUR: 2}
    push(hour + HOUR + timedelta(seconds=2), 3605)
    assert len(shown(this_hour)) == 3
    # New prices or a booked hour refresh both at once.
    rig.coordinator._cost_changed()
    assert calls == {Derived.SLOT: 4, Derived.HOUR: 3}

    rig.coordinator._status(False, "test")
    assert shown(this_hour)[-1] == STATE_UNAVAILABLE
    assert calls == {Derived.SLOT: 5, Derived.HOUR: 4}
    unsubscribe()


# Restart -----------------------------------------------------------------------


async def test_sensors_come_back_after_a_restart(
    hass: HomeAssistant, make_rig: RigFactory
) -> None:
    """After unload and setup the known sensors exist at once and keep their values."""
    rig = await make_rig()
    first, second = hour_frames(present_hour())
    await rig.send(first, second)
    energy = rig.value(str(IMPORT))
    last_hour = rig.value("energy_last_hour")
    keys = {
        entry.unique_id
        for entry in er.async_entries_for_config_entry(
            er.async_get(hass), rig.entry.entry_id
        )
    }

    assert await hass.config_entries.async_unload(rig.entry.entry_id)
    await hass.async_block_till_done()
    rig.meter.reset_line()
    assert await hass.config_entries.async_setup(rig.entry.entry_id)
    await hass.async_block_till_done()
    assert rig.entry.state is ConfigEntryState.LOADED
    # Created from the entity registry before any telegram arrived.
    assert {
        entry.unique_id
        for entry in er.async_entries_for_config_entry(
            er.async_get(hass), rig.entry.entry_id
        )
    } == keys
    assert rig.state(str(IMPORT)).state == STATE_UNAVAILABLE
    assert rig.state("voltage_l1").state == STATE_UNAVAILABLE

    # Data flows again, but no List 3 yet: the hourly values are the restored ones.
    await rig.send(power_frame(800))
    assert rig.value(str(IMPORT)) == energy
    assert rig.value("energy_last_hour") == last_hour
    assert rig.value("active_power_import") == 800
    # Measurements are not restored: unknown until the meter sends them.
    assert rig.state("voltage_l1").state == "unknown"


async def test_energy_restored_from_the_last_run(
    hass: HomeAssistant, make_rig: RigFactory
) -> None:
    """Registered energy sensors start with the value saved by the last run."""
    rig = await make_rig(setup=False)
    registry = er.async_get(hass)
    energy = registry.async_get_or_create(
        "sensor", DOMAIN, f"{METER_ID}_{IMPORT}", config_entry=rig.entry
    )
    power = registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{METER_ID}_{Quantity.ACTIVE_POWER_IMPORT}",
        config_entry=rig.entry,
    )
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(energy.entity_id, "12345.678"),
                {"native_value": 12345.678, "native_unit_of_measurement": "kWh"},
            ),
            (
                State(power.entity_id, "999"),
                {"native_value": 999, "native_unit_of_measurement": "W"},
            ),
        ],
    )
    assert await hass.config_entries.async_setup(rig.entry.entry_id)
    await hass.async_block_till_done()
    await rig.send(power_frame(500))
    assert rig.value(str(IMPORT)) == 12345.678
    # Power is not restored: it is what the meter says now.
    assert rig.value("active_power_import") == 500
    (frame,) = hour_frames(present_hour(), hours=0)
    await rig.send(frame)
    assert rig.value(str(IMPORT)) == frame.truth[IMPORT] / 1000


# Availability and repairs ------------------------------------------------------


@pytest.fixture
def fast_watchdog() -> Iterator[None]:
    """Make the listener give up after 0.5 s of silence and retry quickly."""
    with (
        patch("custom_components.han_port.connection.WATCHDOG_SECONDS", 0.5),
        patch("custom_components.han_port.connection.BACKOFF_MIN_SECONDS", 0.2),
        patch("custom_components.han_port.connection.BACKOFF_MAX_SECONDS", 0.4),
    ):
        yield


@pytest.mark.usefixtures("fast_watchdog")
async def test_silence_makes_entities_unavailable(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The watchdog makes entities unavailable; one warning, one line when back."""
    rig = await make_rig()
    listener = rig.coordinator.listener
    await rig.send(*await rig.live_frames())
    assert rig.state("active_power_import").state != STATE_UNAVAILABLE

    await wait_for(lambda: rig.state("active_power_import").state == STATE_UNAVAILABLE)
    assert rig.state("energy_this_hour").state == STATE_UNAVAILABLE
    assert not rig.coordinator.available
    assert rig.coordinator.live.power_w is None
    # Reopened, still silent: a second watchdog period goes by unlogged.
    await rig.reopened()
    await wait_for(lambda: listener.stats.watchdog_timeouts == 2)
    await rig.reopened()
    lines = warnings(caplog, "No data from the meter")
    assert len(lines) == 1
    assert lines[0].endswith("no valid data for 0 s; reconnecting")
    assert rig.meter.port in lines[0]
    assert not infos(caplog, "is back")

    await rig.send(*await rig.live_frames())
    assert rig.state("active_power_import").state != STATE_UNAVAILABLE
    assert len(infos(caplog, "is back")) == 1
    assert len(warnings(caplog, "No data from the meter")) == 1
    assert listener.stats.reconnects == 2


@pytest.mark.usefixtures("fast_watchdog")
async def test_no_data_issue(
    make_rig: RigFactory, issue_registry: ir.IssueRegistry
) -> None:
    """No data for NO_DATA_ISSUE_SECONDS raises a repair; data deletes it."""
    with patch("custom_components.han_port.coordinator.NO_DATA_ISSUE_SECONDS", 1):
        rig = await make_rig()
        issue_id = f"no_data_{rig.entry.entry_id}"
        # Nothing since the start.
        await wait_for(lambda: issue_registry.async_get_issue(DOMAIN, issue_id))
        issue = issue_registry.async_get_issue(DOMAIN, issue_id)
        assert issue.severity is ir.IssueSeverity.ERROR
        assert issue.translation_key == "no_data"
        assert issue.translation_placeholders == {
            "title": TITLE,
            "port": rig.meter.port,
            "minutes": "0",
        }
        await rig.reopened()
        await rig.send(*await rig.live_frames())
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

        # Silent again: unavailable at once, the repair only after the delay.
        await wait_for(lambda: not rig.coordinator.available)
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
        await wait_for(lambda: issue_registry.async_get_issue(DOMAIN, issue_id))
        await rig.reopened()
        await rig.send(*await rig.live_frames())
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_checksum_errors_issue(
    hass: HomeAssistant, make_rig: RigFactory, issue_registry: ir.IssueRegistry
) -> None:
    """Garbled frames and nothing decoded in a window raise the parity repair."""
    with patch("custom_components.han_port.connection.WATCHDOG_SECONDS", 600):
        rig = await make_rig()
    issue_id = f"checksum_errors_{rig.entry.entry_id}"
    frames = await rig.live_frames()
    await rig.send(*(garbled(frame.data) for frame in frames))
    stats = rig.coordinator.decoder.stats
    assert stats.telegrams == 0
    assert stats.checksum_errors + stats.frame_errors >= 5

    def window_passes() -> None:
        async_fire_time_changed(
            hass, dt_util.utcnow() + timedelta(seconds=ERROR_WINDOW_SECONDS + 1)
        )

    window_passes()
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "checksum_errors"
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders["line"] == "2400 8E1"
    assert issue.translation_placeholders["errors"] == str(
        stats.checksum_errors + stats.frame_errors
    )
    assert issue.translation_placeholders["seconds"] == str(ERROR_WINDOW_SECONDS)

    # A window with a few errors and no telegrams is not enough to clear it...
    await rig.send(garbled(frames[0].data))
    window_passes()
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    # ...one with good data is.
    await rig.send(*await rig.live_frames())
    window_passes()
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert rig.coordinator.listener.stats.watchdog_timeouts == 0


async def test_few_errors_among_telegrams_raise_nothing(
    hass: HomeAssistant, make_rig: RigFactory, issue_registry: ir.IssueRegistry
) -> None:
    """Occasional line noise while telegrams decode is no parity problem."""
    with patch("custom_components.han_port.connection.WATCHDOG_SECONDS", 600):
        rig = await make_rig()
    frames = await rig.live_frames(60)
    mixed: list[SimulatedFrame | bytes] = list(frames)
    for index in range(0, 10, 2):
        mixed[index] = garbled(frames[index].data)
    await rig.send(*mixed)
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=ERROR_WINDOW_SECONDS + 1)
    )
    await hass.async_block_till_done()
    assert (
        issue_registry.async_get_issue(DOMAIN, f"checksum_errors_{rig.entry.entry_id}")
        is None
    )


# Rejected registers -------------------------------------------------------------


async def test_repeated_list3_is_rejected(
    make_rig: RigFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same List 3 again keeps the value, raises a repair and logs once."""
    rig = await make_rig()
    first, second = hour_frames(present_hour())
    await rig.send(first, second)
    value = rig.value(str(IMPORT))
    last_hour = rig.value("energy_last_hour")
    await rig.send(second, second)
    assert rig.value(str(IMPORT)) == value
    assert rig.value("energy_last_hour") == last_hour
    guard = rig.coordinator.guard
    assert guard.rejected["repeated"] == 2
    issue = issue_registry.async_get_issue(
        DOMAIN, f"rejected_register_{rig.entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "rejected_register_repeated"
    assert issue.translation_placeholders["count"] == "2"
    assert issue.translation_placeholders["title"] == TITLE
    assert len(warnings(caplog, "Rejected an energy register reading")) == 1
    # Everything else in the telegram still counts.
    assert rig.coordinator.available


async def test_lower_register_is_rejected_then_rebaselined(
    make_rig: RigFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A lower register is rejected; three consistent lower hours rebaseline."""
    rig = await make_rig()
    hour = present_hour()
    (accepted, _) = hour_frames(hour, seed=3)
    replaced = hour_frames(hour + 2 * HOUR, hours=2, seed=10)
    assert replaced[0].truth[IMPORT] < accepted.truth[IMPORT]
    await rig.send(accepted)
    value = rig.value(str(IMPORT))

    await rig.send(replaced[0])
    assert rig.value(str(IMPORT)) == value
    issue = issue_registry.async_get_issue(
        DOMAIN, f"rejected_register_{rig.entry.entry_id}"
    )
    assert issue.translation_key == "rejected_register_decreased"
    assert "went from" in issue.translation_placeholders["detail"]
    assert len(warnings(caplog, "Rejected an energy register reading")) == 1
    assert rig.state("energy_last_hour").state == "unknown"

    await rig.send(replaced[1])
    assert rig.value(str(IMPORT)) == value
    await rig.send(replaced[2])
    assert rig.value(str(IMPORT)) == replaced[2].truth[IMPORT] / 1000
    assert len(warnings(caplog, "restarted lower")) == 1
    assert len(warnings(caplog, "Rejected an energy register reading")) == 1
    assert rig.coordinator.snapshot.values[IMPORT] == replaced[2].truth[IMPORT]


async def test_rejection_repair_clears_after_a_day_of_good_hours(
    make_rig: RigFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """24 accepted hourly readings after a rejection delete the repair."""
    rig = await make_rig()
    issue_id = f"rejected_register_{rig.entry.entry_id}"
    start = present_hour() - 25 * HOUR
    await rig.send(list3_frame(start, {IMPORT: 1_000_000, EXPORT: 0}))
    await rig.send(list3_frame(start + HOUR, {IMPORT: 1_000_500, EXPORT: 1}))
    await rig.send(list3_frame(start + HOUR, {IMPORT: 1_000_500, EXPORT: 1}))
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    for hour in range(2, 25):
        await rig.send(
            list3_frame(start + hour * HOUR, {IMPORT: 1_000_000 + 500 * hour})
        )
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    await rig.send(list3_frame(start + 25 * HOUR, {IMPORT: 1_012_500}))
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert rig.value("energy_last_hour") == 0.5
    assert rig.state("energy_last_hour").attributes["from_registers"] is True
    # A new rejection after that is logged again.
    await rig.send(list3_frame(start + 25 * HOUR, {IMPORT: 1_012_500}))
    assert len(warnings(caplog, "Rejected an energy register reading")) == 2
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None


async def test_zero_register_is_rejected(
    make_rig: RigFactory, issue_registry: ir.IssueRegistry
) -> None:
    """An import register of 0 never reaches the sensor."""
    rig = await make_rig()
    hour = present_hour()
    await rig.send(list3_frame(hour - HOUR, {IMPORT: 2_000_000}))
    await rig.send(list3_frame(hour, {IMPORT: 0}))
    assert rig.value(str(IMPORT)) == 2000
    issue = issue_registry.async_get_issue(
        DOMAIN, f"rejected_register_{rig.entry.entry_id}"
    )
    assert issue.translation_key == "rejected_register_zero"


async def test_implausible_register_is_rejected(
    make_rig: RigFactory, issue_registry: ir.IssueRegistry
) -> None:
    """More energy in an hour than a 25 A main fuse allows is rejected."""
    rig = await make_rig(options={"main_fuse": 25})
    hour = present_hour()
    await rig.send(list3_frame(hour - HOUR, {IMPORT: 2_000_000}))
    await rig.send(list3_frame(hour, {IMPORT: 2_030_000}))
    assert rig.value(str(IMPORT)) == 2000
    issue = issue_registry.async_get_issue(
        DOMAIN, f"rejected_register_{rig.entry.entry_id}"
    )
    assert issue.translation_key == "rejected_register_implausible"
    assert "25 A main fuse" in issue.translation_placeholders["detail"]


async def test_telegram_without_power_moves_the_hour_on(make_rig: RigFactory) -> None:
    """A list without import power starts the live hour but adds no energy."""
    rig = await make_rig()
    await rig.send(
        aidon_frame([*identity(), _item("1.0.32.7.0.255", U16(2299), -1, 35)])
    )
    live = rig.coordinator.live
    assert live.hour_start == present_hour()
    assert live.power_w is None
    assert rig.value("energy_this_hour") == 0
    assert rig.state("projected_energy_this_hour").state == "unknown"
    assert rig.entity_id("active_power_import") is None
    assert rig.value("voltage_l1") == 229.9


async def test_reading_within_the_hour_is_no_snapshot(make_rig: RigFactory) -> None:
    """A register read mid-hour updates the sensor but not the hourly split."""
    rig = await make_rig()
    hour = present_hour()
    await rig.send(list3_frame(hour - HOUR, {IMPORT: 5_000_000}))
    await rig.send(
        list3_frame(hour - HOUR + timedelta(minutes=20), {IMPORT: 5_000_200})
    )
    assert rig.value(str(IMPORT)) == 5000.2
    assert rig.coordinator.snapshot.values[IMPORT] == 5_000_000
    assert rig.state("energy_last_hour").state == "unknown"
    await rig.send(list3_frame(hour, {IMPORT: 5_000_700}))
    assert rig.value("energy_last_hour") == 0.7
    assert rig.coordinator.snapshot.values[IMPORT] == 5_000_700


async def test_vendor_learned_from_the_meter(
    hass: HomeAssistant, make_rig: RigFactory
) -> None:
    """An entry without a vendor names the maker once the meter tells it."""
    rig = await make_rig(**{CONF_VENDOR: None})
    (device,) = dr.async_entries_for_config_entry(
        dr.async_get(hass), rig.entry.entry_id
    )
    assert device.manufacturer is None
    frames = await rig.live_frames(0)
    await rig.send(next(frame for frame in frames if frame.list_type == 2))
    device = dr.async_get(hass).async_get(device.id)
    assert device.manufacturer == "Aidon"
    assert device.model == "6540"
    assert rig.coordinator.vendor == "aidon"


async def test_base_entity_follows_the_coordinator(
    hass: HomeAssistant, make_rig: RigFactory
) -> None:
    """A plain HAN entity is available with the data and written on each push."""
    rig = await make_rig()
    platform = MockEntityPlatform(hass, domain="sensor", platform_name=DOMAIN)
    entity = HanEntity(rig.coordinator, EntityDescription(key="probe"))
    await platform.async_add_entities([entity])
    assert entity.unique_id == f"{METER_ID}_probe"
    assert entity.device_info == rig.coordinator.device_info
    assert hass.states.get(entity.entity_id).state == STATE_UNAVAILABLE
    await rig.send(power_frame(10))
    assert entity.available
    assert hass.states.get(entity.entity_id).state != STATE_UNAVAILABLE
    await platform.async_reset()


async def test_unchanged_derived_sensors_are_not_written_again(
    make_rig: RigFactory, short_slots: None
) -> None:
    """A resent meter value is reported again; a derived value that stayed is not."""
    rig = await make_rig()
    frame = power_frame(1500)
    await rig.send(frame)
    power = rig.state("active_power_import")
    last_hour = rig.state("energy_last_hour")
    assert power is not None
    assert last_hour is not None
    reports: list[str] = []

    @callback
    def reported(event: Event[EventStateReportedData]) -> None:
        reports.append(event.data["entity_id"])

    @callback
    def every(_data: EventStateReportedData) -> bool:
        return True

    unsubscribe = rig.hass.bus.async_listen(
        EVENT_STATE_REPORTED, reported, event_filter=every
    )
    # In the next slot, so the derived values are worked out again.
    await next_slot()
    await rig.send(frame)
    unsubscribe()
    again = rig.state("active_power_import")
    assert again is not None
    assert again.state == power.state
    assert reports.count(power.entity_id) == 1
    assert last_hour.entity_id not in reports

    # Going unavailable is written even though the value stayed.
    rig.coordinator._status(False, "test")
    assert rig.state("energy_last_hour").state == STATE_UNAVAILABLE


@pytest.mark.parametrize(
    "value", [230.25, 1234, 0.987654321, 0, -15.5, "text", None, dt_util.utcnow()]
)
def test_meter_value_written_as_value_fn_reads_it(value: object) -> None:
    """A sensor of the meter's values shows, after an update, what value_fn reads.

    The update reads the value without calling value_fn (one call less per
    value and push); both must agree for every factor, number or not.
    """
    for description in QUANTITY_SENSORS:
        assert description.quantity is not None
        coordinator = SimpleNamespace(
            meter_id="7359992890941742",
            device_info={},
            available=True,
            values={description.quantity: value},
            meter_clock=value,
        )
        entity = HanSensor(cast(HanCoordinator, coordinator), description)
        with patch.object(entity, "async_write_ha_state") as write:
            entity._handle_update()
        write.assert_called_once_with()
        expected = description.value_fn(cast(HanCoordinator, coordinator))
        assert entity.native_value == expected, description.key
