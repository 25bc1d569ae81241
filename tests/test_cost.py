"""The tariff in Home Assistant: hours priced, costs, capacity, headroom, cost statistic.

The simulated Aidon meter's day (tests/test_statistics.py) is fed to a
coordinator whose options name a grid company; every figure is recomputed
independently with the engine's ``compute_bill`` on the same hourly energy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise
from typing import Any
from unittest.mock import patch

from freezegun.api import TickingDateTimeFactory
from homeassistant.components.recorder.models import StatisticData
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.han_port.const import (
    CONF_BAUDRATE,
    CONF_CAPACITY_STEPS,
    CONF_DAY_PRICE,
    CONF_FIXED_PRICE,
    CONF_GRID_COMPANY,
    CONF_MARKUP,
    CONF_MODEL,
    CONF_MONTHLY_FEE,
    CONF_NIGHT_PRICE,
    CONF_PARITY,
    CONF_PORT,
    CONF_PRICE_ENTITY,
    CONF_SCHEME,
    CONF_TAX_ZONE,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.han_port.cost import (
    TariffCost,
    build_installation,
    parse_steps,
    read_price_entity,
)
from custom_components.han_port.cost_history import HourHistory, window_start
from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame
from custom_components.han_port.registers import HOUR, RegisterReading
from custom_components.han_port.tariff import (
    Bill,
    Installation,
    Month,
    Reading,
    SpotPrices,
    TariffError,
    compute_bill,
    exact,
    price_at,
    project_month,
)
from custom_components.han_port.tariff_sensors import energy_so_far, figures

from .meter import PtyMeter
from .test_statistics import (
    DAY,
    EXPORT,
    IMPORT,
    METER_ID,
    ZONE,
    async_feed,
    async_rows,
    coordinator_of,
    hour_end,
    hourly_frames,
    move_port,
    register,
)

pytestmark = pytest.mark.freeze_time(tick=True)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_db_url: str, enable_custom_integrations: None
) -> None:
    """Choose the recorder's database before ``hass`` is made (see test_statistics)."""


@pytest.fixture(autouse=True)
async def oslo(hass: HomeAssistant) -> None:
    """Run in the meter's time zone."""
    await hass.config.async_set_time_zone("Europe/Oslo")


@pytest.fixture
def new_pty() -> Iterator[Callable[[], PtyMeter]]:
    """Return a factory of pseudo-terminals for the entry's port."""
    made: list[PtyMeter] = []

    def make() -> PtyMeter:
        made.append(PtyMeter(MeterSimulator("aidon", start=DAY)))
        return made[-1]

    yield make
    for meter in made:
        meter.close()


COST_ID = f"{DOMAIN}:{METER_ID}_energy_cost"
FIXED = {
    CONF_GRID_COMPANY: "bkk",
    CONF_TAX_ZONE: "auto",
    CONF_SCHEME: "none",
    CONF_FIXED_PRICE: 0.85,
    CONF_MARKUP: 0.05,
    CONF_MONTHLY_FEE: 49.0,
}
SPOT = {
    CONF_GRID_COMPANY: "elvia",
    CONF_TAX_ZONE: "auto",
    CONF_SCHEME: "stromstotte",
    CONF_PRICE_ENTITY: "sensor.spot",
    CONF_MARKUP: 0.02,
    CONF_MONTHLY_FEE: 29.0,
}


def sensor(hass: HomeAssistant, key: str) -> State:
    """Return the state of one of the meter's sensors by its key."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{METER_ID}_{key}"
    )
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None
    return state


def value(hass: HomeAssistant, key: str) -> float:
    """Return a sensor's state as a number."""
    return float(sensor(hass, key).state)


def readings(frames: Iterable[SimulatedFrame]) -> list[Reading]:
    """Return the hourly import energy between consecutive hourly pushes."""
    return [
        Reading.of(
            hour_end(before),
            Fraction(register(after, IMPORT) - register(before, IMPORT), 1000),
        )
        for before, after in pairwise(frames)
    ]


async def async_setup_tariff(
    hass: HomeAssistant, pty: PtyMeter, options: dict[str, Any]
) -> MockConfigEntry:
    """Set up the meter with a tariff in its options; its data counts as flowing."""
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
        options=options,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator_of(entry)._status(True, None)
    return entry


def cost_of(entry: MockConfigEntry) -> TariffCost:
    """Return the entry's tariff glue."""
    cost = coordinator_of(entry).cost
    assert cost is not None
    return cost


def expected_bill(
    options: dict[str, Any], frames: list[SimulatedFrame], spot: SpotPrices | None
) -> tuple[Installation, Bill]:
    """Price the same hours independently with the engine."""
    installation = build_installation(options)
    assert installation is not None
    bill = compute_bill(installation, Month(2026, 3), readings(frames), spot)
    return installation, bill


async def test_fixed_price_day(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """A day at a fixed price: costs, capacity and the cost statistic to the øre."""
    frames = list(hourly_frames())
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_tariff(hass, new_pty(), FIXED)
    cost = cost_of(entry)

    # Up to the push at 23:00: the day is still today.
    await async_feed(hass, freezer, entry, frames[:24])
    installation, bill = expected_bill(FIXED, frames[:24], None)
    assert cost.state.bill is not None
    assert cost.state.bill.total == bill.total
    assert [hour.total for hour in cost.state.bill.hours] == [
        hour.total for hour in bill.hours
    ]
    coordinator_of(entry)._status(True, None)
    hour = value(hass, "cost_this_hour")
    today = sum((hour.total for hour in bill.hours), Fraction(0))
    assert value(hass, "cost_today") == pytest.approx(float(today) + hour, abs=0.011)
    assert value(hass, "cost_this_month") == pytest.approx(
        float(bill.total) + hour, abs=0.011
    )
    price = price_at(installation, datetime.now(UTC), None, month_kwh=bill.kwh)
    assert value(hass, "price_now") == round(float(price.total), 4)
    assert sensor(hass, "price_now").attributes["spot_ex_vat"] is None
    assert sensor(hass, "price_now").attributes["ahead"] == []
    state = sensor(hass, "cost_this_month")
    assert state.attributes["device_class"] == "monetary"
    assert state.attributes["state_class"] == "total"
    assert state.attributes["unit_of_measurement"] == "NOK"
    assert state.attributes["last_reset"] == Month(2026, 3).start.isoformat()

    # One day: the capacity value is that day's largest hour.
    largest = max(reading.kwh for reading in readings(frames[:24]))
    assert value(hass, "capacity_value") == round(float(largest), 3)
    peaks = sensor(hass, "capacity_value").attributes["peaks"]
    assert [peak["kwh"] for peak in peaks] == [round(float(largest), 3)]
    tracker = installation.capacity_tracker(Month(2026, 3))
    tracker.add_all((reading.start, reading.kwh) for reading in readings(frames[:24]))
    assert value(hass, "capacity_step") == round(float(tracker.monthly_price), 2)
    step = tracker.step
    assert step is not None
    assert sensor(hass, "capacity_step").attributes["from_kw"] == float(step.from_kw)
    assert tracker.kw_to_next_step is not None
    assert value(hass, "kw_to_next_step") == round(float(tracker.kw_to_next_step), 3)
    # The projection sensor is the engine's, worked out in floats.
    shown = figures(coordinator_of(entry)).now
    projection = project_month(cost.state.bill, shown)
    assert value(hass, "cost_month_projection") == round(float(projection.total), 2)
    assert value(hass, "cost_month_projection") > value(hass, "cost_this_month")
    assert sensor(hass, "cost_last_month").state == "unknown"

    # The cost statistic: one row per hour, in the hour of its energy.
    await async_feed(hass, freezer, entry, frames[24:])
    _, bill = expected_bill(FIXED, frames, None)
    rows = await async_rows(hass, COST_ID)
    assert len(rows) == 24
    total = Fraction(0)
    for row, hour_cost in zip(rows, bill.hours, strict=True):
        total += hour_cost.total
        assert datetime.fromtimestamp(row["start"], UTC) == hour_cost.start
        assert row["state"] == pytest.approx(float(hour_cost.total))
        assert row["sum"] == pytest.approx(float(total))
    assert datetime.fromtimestamp(rows[0]["start"], ZONE) == DAY


def spot_state(now: datetime) -> tuple[dict[str, Any], list[tuple[datetime, Fraction]]]:
    """Return a 15-minute price entity's attributes (øre) and its prices in NOK."""
    midnight = now.astimezone(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    quarters = [round(120 + 40 * ((index * 7) % 11) / 10, 2) for index in range(96)]
    prices = [
        (midnight + timedelta(minutes=15 * index), exact(price) / 100)
        for index, price in enumerate(quarters)
    ]
    return {"unit_of_measurement": "øre/kWh", "today": quarters}, prices


async def test_price_entity_day(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """15-minute øre prices with strømstøtte; the month survives a restart."""
    frames = list(hourly_frames())
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    attributes, prices = spot_state(DAY)
    hass.states.async_set("sensor.spot", "130.5", attributes)
    entry = await async_setup_tariff(hass, new_pty(), SPOT)
    cost = cost_of(entry)

    await async_feed(hass, freezer, entry, frames[:13])
    # The state changes during the day; the hours keep the prices they had.
    hass.states.async_set("sensor.spot", "131", attributes | {"today": []})
    await hass.async_block_till_done()
    await async_feed(hass, freezer, entry, frames[13:24])
    spot = SpotPrices.from_series(prices)
    installation, bill = expected_bill(SPOT, frames[:24], spot)
    assert cost.state.bill is not None
    assert cost.state.unpriced == 0
    assert cost.state.bill.total == bill.total
    assert bill.stromstotte < 0
    coordinator_of(entry)._status(True, None)
    price = price_at(installation, datetime.now(UTC), spot, month_kwh=bill.kwh)
    assert value(hass, "price_now") == round(float(price.total), 4)
    attributes_now = sensor(hass, "price_now").attributes
    assert attributes_now["spot_ex_vat"] == round(float(price.spot or 0), 5)
    assert attributes_now["stromstotte"] < 0
    # The rest of the day's hours, priced the same way.
    ahead = attributes_now["ahead"]
    assert ahead[0]["price"] == value(hass, "price_now")
    assert ahead[-1]["start"] == (DAY + timedelta(hours=23)).isoformat()

    # Restart: hours, prices and peaks come back from the store.
    peaks = cost.state.tracker.peaks if cost.state.tracker else ()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    hass.states.async_set("sensor.spot", "131", {"unit_of_measurement": "øre/kWh"})
    move_port(hass, entry, new_pty())
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    cost = cost_of(entry)
    assert cost.state.bill is not None
    assert cost.state.bill.total == bill.total
    assert cost.state.tracker is not None
    assert cost.state.tracker.peaks == peaks

    await async_feed(hass, freezer, entry, frames[24:])
    _, bill = expected_bill(SPOT, frames, spot)
    assert cost.state.bill.total == bill.total
    rows = await async_rows(hass, COST_ID)
    assert len(rows) == 24
    assert rows[-1]["sum"] == pytest.approx(
        float(sum((hour.total for hour in bill.hours), Fraction(0)))
    )


async def test_headroom_worked_example(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """Peaks of 5, 4 and 3 kWh; after 40 minutes at 3 kW, 3000 W remain.

    The capacity value is (5 + 4 + 3) / 3 = 4 kW. An hour today raises it only
    when it passes 3 kWh (it would replace the 3), and 2 kWh are used, so 1 kWh
    is left for the last 20 minutes: 3000 W on average, the total draw.
    """
    start = datetime(2026, 3, 12, 12, 0, tzinfo=ZONE)
    freezer.move_to(start - timedelta(minutes=5))
    entry = await async_setup_tariff(
        hass, new_pty(), FIXED | {CONF_GRID_COMPANY: "elvia"}
    )
    coordinator = coordinator_of(entry)
    cost = cost_of(entry)
    cost.add_hours(
        [
            (datetime(2026, 3, 9, 18, tzinfo=ZONE), Fraction(5)),
            (datetime(2026, 3, 10, 7, tzinfo=ZONE), Fraction(4)),
            (datetime(2026, 3, 10, 8, tzinfo=ZONE), Fraction(2)),
            (datetime(2026, 3, 11, 19, tzinfo=ZONE), Fraction(3)),
        ]
    )
    assert cost.state.tracker is not None
    assert cost.state.tracker.capacity_kw == 4
    headroom = cost.headroom(start + timedelta(minutes=40), Fraction(2))
    assert headroom is not None
    assert headroom.threshold_kwh == 3
    assert headroom.watts == 3000
    # The limit the sensors use holds for the hour and the month's state.
    limit = cost.limit(start + timedelta(minutes=40))
    assert limit == (start, start + HOUR, 3)
    assert cost.limit(start + timedelta(minutes=59)) is limit
    assert cost.limit(start + HOUR) == (start + HOUR, start + 2 * HOUR, 3)

    # The same through the live hour: 3 kW from 12:00 sampled every 30 s.
    moment = start
    while moment <= start + timedelta(minutes=40):
        freezer.move_to(moment)
        coordinator.live.add_power(moment, 3000.0)
        moment += timedelta(seconds=30)
    assert energy_so_far(coordinator, start + timedelta(minutes=40)) == 2
    coordinator._status(True, None)
    assert value(hass, "power_headroom") == 3000
    attributes = sensor(hass, "power_headroom").attributes
    assert attributes["threshold_kwh"] == 3
    assert attributes["above_present_power"] == 0
    assert value(hass, "capacity_value") == 4
    # Up to the next step (5 kW) the hour may reach 3 × 5 − (5 + 4) = 6 kWh:
    # 4 kWh in the last 20 minutes, 12 000 W.
    assert value(hass, "step_headroom") == 12000
    attributes = sensor(hass, "step_headroom").attributes
    assert attributes["threshold_kwh"] == 6
    assert attributes["above_present_power"] == 9000


async def test_expired_tariff_raises_repair(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """A tariff past its validity is not extrapolated: a repair issue, cleared later."""
    freezer.move_to(datetime(2026, 11, 20, 12, tzinfo=ZONE))
    entry = await async_setup_tariff(
        hass, new_pty(), FIXED | {CONF_GRID_COMPANY: "foie"}
    )
    cost = cost_of(entry)
    issue_id = f"tariff_expired_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "tariff_expired"
    assert cost.state.bill is None
    coordinator_of(entry)._status(True, None)
    assert sensor(hass, "cost_this_month").state == "unknown"
    assert sensor(hass, "capacity_step").state == "unknown"
    assert sensor(hass, "power_headroom").state == "unknown"
    assert sensor(hass, "step_headroom").state == "unknown"

    installation = build_installation(FIXED)
    assert installation is not None
    cost.installation = installation
    cost.recompute()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert cost.state.bill is not None


async def test_month_rolls_over(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """Hours of a new month freeze the last month's total and start afresh."""
    freezer.move_to(datetime(2026, 3, 31, 22, 30, tzinfo=ZONE))
    entry = await async_setup_tariff(hass, new_pty(), FIXED)
    cost = cost_of(entry)
    march = [(datetime(2026, 3, 31, 21, tzinfo=ZONE), Fraction(3))]
    cost.add_hours(march)
    march_total = cost.state.bill.total if cost.state.bill else None
    freezer.move_to(datetime(2026, 4, 1, 1, 10, tzinfo=ZONE))
    cost.add_hours(
        [
            (datetime(2026, 3, 31, 23, tzinfo=ZONE), Fraction(1)),
            (datetime(2026, 4, 1, 0, tzinfo=ZONE), Fraction(2)),
        ]
    )
    installation = build_installation(FIXED)
    assert installation is not None
    march_bill = compute_bill(
        installation,
        Month(2026, 3),
        [
            Reading.of(datetime(2026, 3, 31, 21, tzinfo=ZONE), 3),
            Reading.of(datetime(2026, 3, 31, 23, tzinfo=ZONE), 1),
        ],
    )
    assert march_total is not None and march_total < march_bill.total
    assert cost.last_month == ("2026-03", march_bill.total)
    assert cost.month == Month(2026, 4)
    assert list(cost.hours) == [datetime(2026, 3, 31, 22, tzinfo=UTC)]
    coordinator_of(entry)._status(True, None)
    assert value(hass, "cost_last_month") == round(float(march_bill.total), 2)
    assert sensor(hass, "cost_last_month").attributes["month"] == "2026-03"

    # The frozen month survives a restart.
    assert await hass.config_entries.async_unload(entry.entry_id)
    move_port(hass, entry, new_pty())
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert cost_of(entry).last_month == ("2026-03", march_bill.total)
    assert cost_of(entry).month == Month(2026, 4)

    # A late hour of March is not kept: this capacity method counts April alone.
    cost_of(entry).add_hours([(datetime(2026, 3, 30, 8, tzinfo=ZONE), Fraction(5))])
    assert len(cost_of(entry).history) == 0
    assert list(cost_of(entry).hours) == [datetime(2026, 3, 31, 22, tzinfo=UTC)]


def test_parse_steps() -> None:
    """Steps are kW:NOK from 0 kW upwards, decimals with a point."""
    assert parse_steps("0:120, 2:190,5.5:280") == [
        (0, 120),
        (2, 190),
        (Fraction(11, 2), 280),
    ]
    for bad in ("", "2:120", "0:120,0:130", "0-120"):
        with pytest.raises(ValueError):
            parse_steps(bad)


def test_build_installation() -> None:
    """Options become the engine's installation; none means no tariff."""
    assert build_installation({}) is None
    assert build_installation({CONF_GRID_COMPANY: "none"}) is None
    custom = build_installation(
        {
            CONF_GRID_COMPANY: "custom",
            CONF_DAY_PRICE: 0.3,
            CONF_NIGHT_PRICE: 0.2,
            CONF_CAPACITY_STEPS: "0:100,5:200",
            CONF_TAX_ZONE: "nord_norge",
            CONF_SCHEME: "norgespris",
        }
    )
    assert custom is not None
    assert custom.company.id == "custom"
    assert str(custom.tax_zone) == "nord_norge"
    assert custom.supply.needs_spot
    flat = build_installation(
        {CONF_GRID_COMPANY: "custom", CONF_DAY_PRICE: 0.3, CONF_CAPACITY_STEPS: "0:1"}
    )
    assert flat is not None and flat.company.tariffs[0].energy.bands == ("flat",)


def test_read_price_entity() -> None:
    """Nord Pool's raw lists, hourly today lists, units in øre, NOK or per MWh."""
    now = datetime(2026, 3, 10, 12, tzinfo=ZONE)
    start = datetime(2026, 3, 10, 0, tzinfo=ZONE)
    raw = [
        {
            "start": (start + timedelta(hours=index)).isoformat(),
            "end": start + timedelta(hours=index + 1),
            "value": 1.25,
        }
        for index in range(24)
    ]
    raw += [{"start": None, "end": None, "value": 1}, "junk"]
    raw += [{"start": start, "end": start + timedelta(minutes=30), "value": 1}]
    state = State(
        "sensor.nordpool",
        "1.25",
        {"unit": "NOK/kWh", "raw_today": raw, "raw_tomorrow": None},
    )
    points, current = read_price_entity(state, now)
    assert len(points) == 24
    assert points[0] == (start.astimezone(UTC), 60, Fraction(5, 4))
    assert current == Fraction(5, 4)

    state = State(
        "sensor.spot",
        "unavailable",
        {
            "unit_of_measurement": "NOK/MWh",
            "today": [1000.0] * 23 + [None],
            "tomorrow": [2000.0] * 24,
        },
    )
    points, current = read_price_entity(state, now)
    assert current is None
    assert len(points) == 47
    assert points[-1] == (
        datetime(2026, 3, 11, 23, tzinfo=ZONE).astimezone(UTC),
        60,
        Fraction(2),
    )
    cents = State("sensor.spot", "not a price", {"price_in_cents": True})
    assert read_price_entity(cents, now) == ([], None)
    assert read_price_entity(
        State("sensor.spot", "150", {"price_in_cents": True}), now
    )[1] == Fraction(3, 2)


async def test_recompute_month_action(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """The action rebuilds the month from the recorded import statistic."""
    frames = list(hourly_frames())
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_tariff(hass, new_pty(), FIXED)
    cost = cost_of(entry)
    await async_feed(hass, freezer, entry, frames)
    await async_rows(hass, COST_ID)
    _, bill = expected_bill(FIXED, frames, None)

    # A lost month (e.g. the tariff's store was deleted) comes back.
    cost.hours = {}
    cost.recompute()
    assert cost.state.bill is not None and cost.state.bill.kwh == 0
    response = await hass.services.async_call(
        DOMAIN,
        "recompute_month",
        {"config_entry_id": entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert response == {"hours": 24}
    assert cost.state.bill is not None
    assert cost.state.bill.total == bill.total
    rows = await async_rows(hass, COST_ID)
    assert len(rows) == 24
    assert rows[-1]["sum"] == pytest.approx(
        float(sum((hour.total for hour in bill.hours), Fraction(0)))
    )

    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "recompute_month", {"config_entry_id": "nope"}, blocking=True
        )
    assert err.value.translation_key == "unknown_entry"

    other = MockConfigEntry(
        domain=DOMAIN,
        title="Kaifa",
        unique_id="6970631400000000",
        data={CONF_PORT: new_pty().port, CONF_BAUDRATE: 2400, CONF_PARITY: "E"},
    )
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "recompute_month",
            {"config_entry_id": other.entry_id},
            blocking=True,
        )
    assert err.value.translation_key == "entry_not_loaded"
    assert await hass.config_entries.async_setup(other.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "recompute_month",
            {"config_entry_id": other.entry_id},
            blocking=True,
        )
    assert err.value.translation_key == "no_tariff"


async def test_unusable_tariff_options(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Options naming a company that is not shipped leave the tariff off."""
    freezer.move_to(DAY)
    entry = await async_setup_tariff(
        hass, new_pty(), FIXED | {CONF_GRID_COMPANY: "gone"}
    )
    assert coordinator_of(entry).cost is None
    assert "cannot be used" in caplog.text
    registry = er.async_get(hass)
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, f"{METER_ID}_price_now") is None
    )


async def test_prices_followed_and_unpriced_hours(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """Hours without a price are left out, not guessed; new prices price them."""
    now = datetime(2026, 3, 10, 12, 5, tzinfo=ZONE)
    freezer.move_to(now)
    # The price sensor does not exist yet when the entry starts.
    entry = await async_setup_tariff(hass, new_pty(), SPOT)
    cost = cost_of(entry)
    assert cost.prices == {}
    assert cost.price_now(now) is None
    hours = [
        (datetime(2026, 3, 10, hour, tzinfo=ZONE), Fraction(1, 2)) for hour in (9, 10)
    ]
    cost.add_hours(hours)
    assert cost.state.unpriced == 2
    assert cost.state.bill is not None and cost.state.bill.kwh == 0
    assert cost.state.tracker is not None and cost.state.tracker.capacity_kw == 1 / 2

    # The sensor appears: its state prices only the running hour.
    hass.states.async_set("sensor.spot", "1.5", {"unit_of_measurement": "NOK/kWh"})
    await hass.async_block_till_done()
    assert list(cost.prices) == [datetime(2026, 3, 10, 11, tzinfo=UTC)]
    assert cost.state.unpriced == 2
    # A list for the day prices the finished hours too; old prices are dropped.
    old = datetime(2026, 1, 5, tzinfo=UTC)
    cost.prices[old] = ((old, 60, Fraction(1)),)
    hass.states.async_set(
        "sensor.spot",
        "1.5",
        {"unit_of_measurement": "NOK/kWh", "today": [1.0] * 12 + [1.5] * 12},
    )
    await hass.async_block_till_done()
    assert cost.state.unpriced == 0
    assert cost.state.bill is not None and cost.state.bill.kwh == 1
    assert old not in cost.prices
    price = cost.price_now(datetime.now(UTC))
    assert price is not None and price.spot == Fraction(3, 2)

    # Outside the month there is no headroom to speak of.
    assert cost.headroom(datetime(2026, 4, 2, tzinfo=ZONE), Fraction(0)) is None

    # A reading without the import register prices nothing; a reset meter
    # rebases the register the next hour is measured from.
    boundary = datetime(2026, 3, 10, 13, tzinfo=ZONE)
    cost.add_reading(boundary, RegisterReading(boundary, "", {EXPORT: 5.0}))
    assert cost.last_register is None
    cost.rebase(boundary, RegisterReading(boundary, "", {IMPORT: 1000.0}))
    assert cost.last_register == (boundary, 1000.0)
    cost.add_reading(
        boundary + HOUR, RegisterReading(boundary + HOUR, "", {IMPORT: 1750.0})
    )
    assert cost.hours[(boundary).astimezone(UTC)] == Fraction(3, 4)
    cost.rebase(boundary, RegisterReading(boundary, "", {EXPORT: 5.0}))
    assert cost.last_register == (boundary + HOUR, 1750.0)


async def test_prices_ahead_stop_at_an_expired_tariff(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """Coming prices are not shown past the end of a tariff's validity."""
    now = datetime(2026, 10, 31, 22, 30, tzinfo=ZONE)
    freezer.move_to(now)
    hass.states.async_set(
        "sensor.spot",
        "1.0",
        {"unit_of_measurement": "NOK/kWh", "today": [1.0] * 24, "tomorrow": [1.0] * 24},
    )
    entry = await async_setup_tariff(
        hass, new_pty(), SPOT | {CONF_GRID_COMPANY: "foie"}
    )
    cost = cost_of(entry)
    assert cost.price_now(now) is not None
    assert cost.prices_ahead(now) == []


async def test_remove_entry_deletes_the_tariff_store(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
    hass_storage: dict[str, Any],
) -> None:
    """Removing the meter deletes its priced month too."""
    freezer.move_to(DAY)
    entry = await async_setup_tariff(hass, new_pty(), FIXED)
    assert await hass.config_entries.async_unload(entry.entry_id)
    key = f"{DOMAIN}.{entry.entry_id}.tariff"
    assert hass_storage[key]["data"]["month"] == "2026-03"
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_cost_sum_continues_for_a_meter_added_again(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """A new entry for the same meter continues the cost statistic's sum."""
    frames = list(hourly_frames())
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_tariff(hass, new_pty(), FIXED)
    await async_feed(hass, freezer, entry, frames)
    first = await async_rows(hass, COST_ID)
    assert len(first) == 24
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    # Added again in April: the sum goes on from March's last row.
    freezer.move_to(datetime(2026, 4, 1, 0, 59, tzinfo=ZONE))
    entry = await async_setup_tariff(hass, new_pty(), FIXED)
    cost = cost_of(entry)
    assert cost.month_start_sum == exact(round(first[-1]["sum"], 6))
    april = datetime(2026, 4, 1, 0, tzinfo=ZONE)
    freezer.move_to(april + timedelta(hours=1, minutes=1))
    cost.add_hours([(april, Fraction(2))])
    await async_wait_recording_done(hass)
    found = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        april,
        None,
        {COST_ID},
        "hour",
        None,
        {"state", "sum"},
    )
    (row,) = found[COST_ID]
    assert row["sum"] == pytest.approx(first[-1]["sum"] + row["state"])


FJELLNETT = FIXED | {CONF_GRID_COMPANY: "fjellnett"}
MARCH = Month(2026, 3)


def year_of_hours(first: datetime, end: datetime) -> list[tuple[datetime, Fraction]]:
    """Return hourly import energy from ``first`` to ``end`` (UTC starts).

    A varied base load with a few large hours: in May 2025 (weighted lightly),
    in January 2026 (weighted fully) and in March 2025, which Fjellnett counts
    for February but no longer for March.
    """
    peaks = {
        datetime(2025, 3, 12, 18, tzinfo=ZONE): Fraction(11),
        datetime(2025, 5, 6, 7, tzinfo=ZONE): Fraction(9),
        datetime(2026, 1, 7, 17, tzinfo=ZONE): Fraction(8),
        datetime(2026, 1, 15, 8, tzinfo=ZONE): Fraction(15, 2),
        datetime(2026, 1, 21, 18, tzinfo=ZONE): Fraction(7),
    }
    hours: list[tuple[datetime, Fraction]] = []
    start = first.astimezone(UTC)
    index = 0
    while start < end:
        base = Fraction(300 + (index * 7919) % 2700, 1000)
        hours.append((start, peaks.get(start, base)))
        start += timedelta(hours=1)
        index += 1
    return hours


def engine_capacity(
    installation: Installation, month: Month, hours: list[tuple[datetime, Fraction]]
) -> tuple[Bill, Any]:
    """Return the engine's bill and tracker of a month from the hours it counts."""
    tracker = installation.capacity_tracker(month)
    window = [(start, kwh) for start, kwh in hours if start >= tracker.window_start]
    tracker.add_all(window)
    bill = compute_bill(
        installation,
        month,
        [Reading.of(start, kwh) for start, kwh in window if start in month],
        history=[
            Reading.of(start, kwh) for start, kwh in window if start < month.start
        ],
    )
    return bill, tracker


async def test_fjellnett_counts_twelve_months(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
    hass_storage: dict[str, Any],
) -> None:
    """The rolling capacity value in HA is the engine's over the same 12 months.

    The months before are kept as the month rolls, pruned to the window and
    saved, so a restart gives the same value, charge and headroom.
    """
    installation = build_installation(FJELLNETT)
    assert installation is not None
    assert installation.company.tariff_at(MARCH.first_day).capacity.window_months == 12
    now = datetime(2026, 3, 12, 12, 10, tzinfo=ZONE)
    hours = year_of_hours(
        datetime(2025, 3, 1, tzinfo=ZONE), now - timedelta(minutes=10)
    )
    february_end = datetime(2026, 2, 27, 12, tzinfo=ZONE)

    freezer.move_to(february_end + timedelta(minutes=5))
    entry = await async_setup_tariff(hass, new_pty(), FJELLNETT)
    cost = cost_of(entry)
    cost.add_hours(start_kwh for start_kwh in hours if start_kwh[0] < february_end)
    bill, tracker = engine_capacity(
        installation,
        Month(2026, 2),
        [start_kwh for start_kwh in hours if start_kwh[0] < february_end],
    )
    assert cost.state.tracker is not None and cost.state.bill is not None
    # March 2025's 11 kWh (weight 1) counts for February.
    assert max(peak.kwh for peak in cost.state.tracker.peaks) == 11
    assert cost.state.tracker.capacity_kw == tracker.capacity_kw
    assert cost.state.bill.grid_capacity == bill.grid_capacity

    freezer.move_to(now)
    cost.add_hours(start_kwh for start_kwh in hours if start_kwh[0] >= february_end)
    assert cost.month == MARCH
    first_hour = MARCH.minus(11).start
    assert min(cost.history.hours) == first_hour
    assert max(cost.history.hours) == MARCH.start - HOUR
    assert len(cost.history) == (MARCH.start - first_hour) // HOUR
    bill, tracker = engine_capacity(installation, MARCH, hours)
    march_alone, _ = engine_capacity(
        installation, MARCH, [start_kwh for start_kwh in hours if start_kwh[0] in MARCH]
    )
    assert tracker.capacity_kw != march_alone.grid_capacity.capacity_kw
    assert 11 not in {peak.kwh for peak in tracker.peaks}

    def check(cost: TariffCost) -> None:
        assert cost.state.tracker is not None and cost.state.bill is not None
        assert cost.state.tracker.capacity_kw == tracker.capacity_kw
        assert cost.state.tracker.peaks == tracker.peaks
        assert cost.state.bill.grid_capacity == bill.grid_capacity
        assert cost.state.bill.total == bill.total
        assert cost.headroom(now, Fraction(1, 2)) == tracker.headroom(
            now, Fraction(1, 2)
        )
        coordinator_of(entry)._status(True, None)
        assert value(hass, "capacity_value") == round(float(tracker.capacity_kw), 3)

    # An hour older than the window does not count.
    cost.add_hours([(datetime(2025, 3, 31, 20, tzinfo=ZONE), Fraction(30))])
    assert min(cost.history.hours) == first_hour
    check(cost)

    # Saved compactly: the first hour and one entry an hour.
    assert await hass.config_entries.async_unload(entry.entry_id)
    saved = hass_storage[f"{DOMAIN}.{entry.entry_id}.tariff"]["data"]["history"]
    assert datetime.fromisoformat(saved["start"]) == first_hour
    assert len(saved["kwh"]) == len(cost.history)
    move_port(hass, entry, new_pty())
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert cost_of(entry) is not cost
    assert cost_of(entry).history.hours == cost.history.hours
    check(cost_of(entry))


async def test_store_without_history_still_loads(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
    hass_storage: dict[str, Any],
) -> None:
    """A month saved before history was kept loads with the month alone."""
    freezer.move_to(datetime(2026, 3, 12, 12, 10, tzinfo=ZONE))
    month_hours = year_of_hours(MARCH.start, datetime(2026, 3, 12, 12, tzinfo=ZONE))
    entry = await async_setup_tariff(hass, new_pty(), FJELLNETT)
    assert await hass.config_entries.async_unload(entry.entry_id)
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}.tariff"]["data"]
    del stored["history"]
    stored["hours"] = {start.isoformat(): str(kwh) for start, kwh in month_hours}
    move_port(hass, entry, new_pty())
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    cost = cost_of(entry)
    assert len(cost.history) == 0
    installation = build_installation(FJELLNETT)
    assert installation is not None
    bill, tracker = engine_capacity(installation, MARCH, month_hours)
    assert cost.state.tracker is not None and cost.state.bill is not None
    assert cost.state.tracker.capacity_kw == tracker.capacity_kw
    assert cost.state.bill.total == bill.total
    assert any("data covers 1" in note for note in cost.state.bill.notes)


async def test_recompute_month_fills_the_history(
    recorder_mock: Any,
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """The action fetches the 12 months' hours from the import statistic."""
    now = datetime(2026, 3, 12, 12, 10, tzinfo=ZONE)
    first_hour = MARCH.minus(11).start
    hours = year_of_hours(first_hour, now - timedelta(minutes=10))
    freezer.move_to(now)
    entry = await async_setup_tariff(hass, new_pty(), FJELLNETT)
    coordinator = coordinator_of(entry)
    total = Fraction(0)
    # Every fifth hour and the large ones: fewer rows to record, gaps between.
    hours = [
        (start, kwh)
        for index, (start, kwh) in enumerate(hours)
        if index % 5 == 0 or kwh > 3
    ]
    rows = [StatisticData(start=first_hour - HOUR, state=0.0, sum=0.0)]
    for start, kwh in hours:
        total += kwh
        rows.append(StatisticData(start=start, state=float(kwh), sum=float(total)))
    async_add_external_statistics(hass, coordinator.statistics._metadata(IMPORT), rows)
    await async_wait_recording_done(hass)

    cost = cost_of(entry)
    known = datetime(2025, 6, 2, 7, tzinfo=UTC)
    cost.history.add([(known, Fraction(4))])
    response = await hass.services.async_call(
        DOMAIN,
        "recompute_month",
        {"config_entry_id": entry.entry_id},
        blocking=True,
        return_response=True,
    )
    march = [start_kwh for start_kwh in hours if start_kwh[0] in MARCH]
    assert response == {"hours": len(march)}
    # Hours already known are kept; the missing ones are filled.
    assert cost.history.hours[known] == 4
    expected = dict(hours) | {known: Fraction(4)}
    assert cost.history.hours == {
        start: kwh for start, kwh in expected.items() if start < MARCH.start
    }
    installation = build_installation(FJELLNETT)
    assert installation is not None
    bill, tracker = engine_capacity(installation, MARCH, sorted(expected.items()))
    assert cost.state.tracker is not None and cost.state.bill is not None
    assert cost.state.tracker.capacity_kw == tracker.capacity_kw
    assert cost.state.bill.grid_capacity == bill.grid_capacity


def test_hour_history() -> None:
    """The history saves compactly, restores, prunes and fills only gaps."""
    first = datetime(2026, 1, 1, tzinfo=UTC)
    history = HourHistory()
    assert history.stored() is None
    assert len(HourHistory.restore(None)) == 0
    history.add([(first, Fraction(1, 2)), (first + 2 * HOUR, Fraction(3))])
    assert history.stored() == {
        "start": "2026-01-01T00:00:00+00:00",
        "kwh": ["1/2", None, "3"],
    }
    assert HourHistory.restore(history.stored()).hours == history.hours
    assert history.fill([(first, Fraction(9)), (first + HOUR, Fraction(2))]) == 1
    assert history.hours[first] == Fraction(1, 2)
    history.prune(first + HOUR, first + 2 * HOUR)
    assert list(history.hours) == [first + HOUR]
    history.prune(None, first + 2 * HOUR)
    assert len(history) == 0

    bkk = build_installation(FIXED)
    fjellnett = build_installation(FJELLNETT)
    foie = build_installation(FIXED | {CONF_GRID_COMPANY: "foie"})
    assert bkk is not None and fjellnett is not None and foie is not None
    assert window_start(bkk, MARCH) is None
    assert window_start(fjellnett, MARCH) == Month(2025, 4).start
    assert window_start(foie, Month(2026, 11)) is None

    # Only the highest hour of each week is counted, picked once per change.
    year = HourHistory(year_of_hours(MARCH.minus(12).start, MARCH.start))
    assert year.counted(bkk, MARCH) == []
    counted = year.counted(fjellnett, MARCH)
    assert 48 <= len(counted) <= 49
    assert min(reading.start for reading in counted) >= MARCH.minus(11).start
    assert year.counted(fjellnett, MARCH) is counted
    year.add([(datetime(2026, 2, 2, 8, tzinfo=ZONE), Fraction(20))])
    assert Fraction(20) in {reading.kwh for reading in year.counted(fjellnett, MARCH)}


async def test_prices_worked_out_once_per_interval(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """A price holds for its settlement interval, the month's energy and the prices."""
    start = datetime(2026, 3, 12, 12, 0, tzinfo=ZONE)
    freezer.move_to(start)
    attributes, _ = spot_state(start)
    hass.states.async_set("sensor.spot", "130.5", attributes)
    entry = await async_setup_tariff(hass, new_pty(), SPOT)
    cost = cost_of(entry)
    price = cost.price_now(start + timedelta(minutes=1))
    ahead = cost.prices_ahead(start + timedelta(minutes=1))
    assert price is not None
    assert ahead[0] == price
    assert cost.price_now(start + timedelta(minutes=59)) is price
    assert cost.prices_ahead(start + timedelta(minutes=59)) is ahead

    later = cost.price_now(start + timedelta(hours=1))
    assert later is not None
    assert later.start == start + timedelta(hours=1)
    assert cost.prices_ahead(start + timedelta(hours=1))[0] == later

    # More energy this month is a new key: the price is worked out again.
    cost.add_hours([(start - timedelta(hours=2), Fraction(3))])
    assert cost.price_now(start + timedelta(hours=1)) is not later
    assert cost.price_now(start + timedelta(hours=1)) == later

    # A rate that ends within the coming prices shows none of them.
    with patch(
        "custom_components.han_port.cost.prices_ahead",
        side_effect=TariffError("no rate"),
    ):
        assert cost.prices_ahead(start + timedelta(hours=2)) == []


async def test_figures_shared_per_telegram(
    hass: HomeAssistant,
    freezer: TickingDateTimeFactory,
    new_pty: Callable[[], PtyMeter],
) -> None:
    """The tariff sensors of one update share one set of figures; reading moves nothing."""
    frames = list(hourly_frames())
    freezer.move_to(frames[0].time - timedelta(minutes=1))
    entry = await async_setup_tariff(hass, new_pty(), FIXED)
    coordinator = coordinator_of(entry)
    before = figures(coordinator)
    assert before.at is None
    assert figures(coordinator) is not before  # without a telegram: now, each time

    await async_feed(hass, freezer, entry, frames[:2])
    found = figures(coordinator)
    assert found.at == coordinator.last_telegram
    assert figures(coordinator) is found
    live = coordinator.live
    energy = live.energy_wh
    freezer.move_to(frames[1].time + timedelta(minutes=10))
    assert energy_so_far(coordinator, dt_util.utcnow()) == energy / 1000
    assert live.energy_wh == energy

    # A new month state (an hour booked) is worked out again at the same telegram.
    cost_of(entry).recompute()
    assert figures(coordinator) is not found
