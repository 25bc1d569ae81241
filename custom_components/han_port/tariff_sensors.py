"""Sensors of the tariff: price now, costs, capacity step and power headroom.

Created only when a grid company is set in the options. Money is NOK incl
VAT; the monthly cost includes the capacity step and the supplier's fee, the
hourly and daily costs are what the energy itself costs (energy part, taxes,
supply and the scheme).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, Final, NamedTuple
from weakref import WeakKeyDictionary

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import UnitOfPower
from homeassistant.util import dt as dt_util

from .coordinator import HanCoordinator
from .cost import MonthState, TariffCost
from .entity import HanSensorEntityDescription
from .registers import HOUR
from .tariff import PriceBreakdown

NOK: Final = "NOK"
NOK_PER_KWH: Final = "NOK/kWh"


def _cost(coordinator: HanCoordinator) -> TariffCost:
    cost = coordinator.cost
    assert cost is not None  # the sensors exist only with a tariff
    return cost


def energy_so_far(coordinator: HanCoordinator, now: datetime) -> float:
    """Return the running hour's energy (kWh) as the coordinator integrated it.

    Reading it changes nothing: the coordinator moves the live hour on with
    each telegram, and the sensors describe the moment of the last one.
    """
    live = coordinator.live
    if live.hour_start is None or not live.hour_start <= now < live.hour_start + HOUR:
        return 0.0
    return live.energy_wh / 1000


class Room(NamedTuple):
    """A headroom as the sensors show it (``CapacityTracker.headroom`` in floats)."""

    interval_end: datetime
    threshold_kwh: float
    energy_kwh: float
    watts: float


def _room(
    limit: tuple[datetime, datetime, Fraction] | None, now: datetime, energy_kwh: float
) -> Room | None:
    """Spread what the interval may still take over the time it has left.

    ``limit`` is ``TariffCost.limit``: the tracker keeps it for the interval.
    """
    if limit is None:
        return None
    _start, end, exact = limit
    threshold = float(exact)
    hours_left = (end - now).total_seconds() / 3600
    return Room(
        end,
        threshold,
        energy_kwh,
        max(0.0, threshold - energy_kwh) / hours_left * 1000,
    )


class Pace(NamedTuple):
    """What the month-end projection takes from the month's state.

    Fixed part, variable part and the month's start, end and hours: exact
    until an hour is booked; only the time elapsed moves between.
    """

    fixed: float
    variable: float
    start: datetime
    end: datetime
    hours: int


class Figures(NamedTuple):
    """The tariff at the last telegram, shared by all tariff sensors of one update.

    The price, the running hour's cost and the headroom feed several sensors
    and their attributes; they are worked out once per update instead of
    once for each. What the sensors show is rounded, so the figures that
    move with every update are floats made from the engine's exact ones: the
    price (kept for its interval), the finished hours of today and the month
    (kept for the day and month state) and the capacity thresholds (kept by
    the tracker for their interval). Booked hours, the bill and the cost
    statistics stay exact.
    """

    at: datetime | None
    now: datetime
    state: MonthState
    day: date  # local, as Home Assistant's time zone has it
    day_start: datetime
    day_end: datetime
    price: PriceBreakdown | None
    price_total: float | None
    running: float | None
    today: float | None
    billed: float | None
    pace: Pace | None
    headroom: Room | None
    step_headroom: Room | None


@dataclass(slots=True)
class Shown:
    """What the tariff sensors of one meter showed last, kept with its cost."""

    figures: Figures | None = None
    price: tuple[PriceBreakdown, dict[str, Any]] | None = None


def _shown(cost: TariffCost) -> Shown:
    shown = cost.shown
    if shown is None:
        shown = cost.shown = Shown()
    return shown


def _pace_of(state: MonthState) -> Pace | None:
    bill = state.bill
    if bill is None:
        return None
    month = bill.month
    return Pace(
        float(bill.grid_capacity.amount + bill.supply_fee),
        float(bill.variable),
        month.start,
        month.end,
        month.hours,
    )


def figures(coordinator: HanCoordinator) -> Figures:
    """Return the tariff's figures at the last telegram (now, before the first).

    All tariff sensors of an update ask for them, so the figures already
    worked out for this telegram are found without a further call.
    """
    cost = coordinator.cost
    at = coordinator.last_telegram
    known = None
    if cost is not None and (shown := cost.shown) is not None:
        known = shown.figures
        if (
            known is not None
            and at is not None
            and known.at == at
            and known.state is cost.state
        ):
            return known
    return _work_out(coordinator, known, at)


def _work_out(
    coordinator: HanCoordinator, known: Figures | None, at: datetime | None
) -> Figures:
    cost = _cost(coordinator)
    shown = _shown(cost)
    state = cost.state
    now = at or dt_util.utcnow()
    if known is not None and known.day_start <= now < known.day_end:
        day, day_start, day_end = known.day, known.day_start, known.day_end
    else:
        day = dt_util.as_local(now).date()
        day_start = dt_util.start_of_local_day(day)
        day_end = dt_util.start_of_local_day(day + timedelta(days=1))
    energy = energy_so_far(coordinator, now)
    price = cost.price_now(now)
    if known is not None and known.price is price:
        price_total = known.price_total
    else:
        price_total = None if price is None else float(price.total)
    same_state = known is not None and known.state is state
    if known is not None and same_state and known.day == day:
        today = known.today
    else:
        finished = cost.today(now)
        today = None if finished is None else float(finished)
    if known is not None and same_state:
        billed, pace = known.billed, known.pace
    else:
        bill = state.bill
        billed = None if bill is None else float(bill.total)
        pace = _pace_of(state)
    found = Figures(
        at,
        now,
        state,
        day,
        day_start,
        day_end,
        price,
        price_total,
        None if price_total is None else price_total * energy,
        today,
        billed,
        pace,
        _room(cost.limit(now, to_step=False), now, energy),
        _room(cost.limit(now, to_step=True), now, energy),
    )
    shown.figures = found
    return found


def _per_month[T](read: Callable[[HanCoordinator], T]) -> Callable[[HanCoordinator], T]:
    """Keep what a sensor reads from the month's state until the state changes.

    The capacity and last month's figures change only when an hour is booked
    or the prices change, which replaces the state; not with each telegram.
    """
    known: WeakKeyDictionary[HanCoordinator, tuple[MonthState, T]] = WeakKeyDictionary()

    def cached(coordinator: HanCoordinator) -> T:
        state = _cost(coordinator).state
        found = known.get(coordinator)
        if found is not None and found[0] is state:
            return found[1]
        value = read(coordinator)
        known[coordinator] = (state, value)
        return value

    return cached


def _money(value: Fraction | float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _price_now(coordinator: HanCoordinator) -> float | None:
    total = figures(coordinator).price_total
    return None if total is None else round(total, 4)


def _price_attributes(coordinator: HanCoordinator) -> dict[str, Any] | None:
    found = figures(coordinator)
    price = found.price
    if price is None:
        return None
    cost = _cost(coordinator)
    shown = _shown(cost)
    known = shown.price
    # The price and the prices ahead are kept for the same settlement
    # interval, state and spot prices: while the price is the one they were
    # made with, so are the prices ahead, and so are the attributes.
    if known is not None and known[0] is price:
        return known[1]
    ahead = cost.prices_ahead(found.now)
    attributes = {
        "spot_ex_vat": None if price.spot is None else round(float(price.spot), 5),
        "supply": round(float(price.supply), 5),
        "grid_energy": round(float(price.grid_energy), 5),
        "elavgift": round(float(price.elavgift), 5),
        "enova": round(float(price.enova), 5),
        "stromstotte": round(float(price.stromstotte), 5),
        "norgespris": round(float(price.norgespris), 5),
        "band": price.band,
        "tariff": price.tariff_id,
        "ahead": [
            {
                "start": dt_util.as_local(coming.start).isoformat(),
                "price": round(float(coming.total), 4),
            }
            for coming in ahead
        ],
    }
    shown.price = (price, attributes)
    return attributes


def _cost_this_hour(coordinator: HanCoordinator) -> float | None:
    return _money(figures(coordinator).running)


def _cost_today(coordinator: HanCoordinator) -> float | None:
    found = figures(coordinator)
    if found.today is None or found.running is None:
        return None
    return _money(found.today + found.running)


def _cost_this_month(coordinator: HanCoordinator) -> float | None:
    found = figures(coordinator)
    if found.billed is None or found.running is None:
        return None
    return _money(found.billed + found.running)


@_per_month
def _last_month(coordinator: HanCoordinator) -> float | None:
    last = _cost(coordinator).last_month
    return None if last is None else _money(last[1])


@_per_month
def _last_month_attributes(coordinator: HanCoordinator) -> dict[str, Any] | None:
    last = _cost(coordinator).last_month
    return None if last is None else {"month": last[0]}


def _projection(coordinator: HanCoordinator) -> float | None:
    """Show ``project_month`` for the last update, in floats."""
    found = figures(coordinator)
    pace = found.pace
    if pace is None:
        return None
    fixed, variable, start, end, hours = pace
    now = found.now
    elapsed = (min(max(now, start), end) - start).total_seconds() / 3600
    return _money(fixed if elapsed == 0 else fixed + variable * hours / elapsed)


@_per_month
def _capacity_value(coordinator: HanCoordinator) -> float | None:
    tracker = _cost(coordinator).state.tracker
    if tracker is None or not tracker.measured:
        return None
    return round(float(tracker.capacity_kw), 3)


@_per_month
def _capacity_attributes(coordinator: HanCoordinator) -> dict[str, Any] | None:
    tracker = _cost(coordinator).state.tracker
    if tracker is None:
        return None
    return {
        "method": str(tracker.part.method),
        "peaks": [
            {
                "start": peak.local_start.isoformat(),
                "kwh": round(float(peak.kwh), 3),
                "kw": round(float(peak.kw), 3),
            }
            for peak in tracker.peaks
        ],
    }


@_per_month
def _capacity_step(coordinator: HanCoordinator) -> float | None:
    tracker = _cost(coordinator).state.tracker
    return None if tracker is None else _money(tracker.monthly_price)


@_per_month
def _step_attributes(coordinator: HanCoordinator) -> dict[str, Any] | None:
    tracker = _cost(coordinator).state.tracker
    step = None if tracker is None else tracker.step
    if step is None:
        return None
    return {
        "step": step.index + 1,
        "from_kw": float(step.from_kw),
        "to_kw": None if step.to_kw is None else float(step.to_kw),
    }


@_per_month
def _kw_to_next(coordinator: HanCoordinator) -> float | None:
    tracker = _cost(coordinator).state.tracker
    left = None if tracker is None else tracker.kw_to_next_step
    return None if left is None else round(float(left), 3)


def _headroom(
    key: str, pick: Callable[[Figures], Room | None]
) -> HanSensorEntityDescription:
    """Describe a headroom sensor: the watts ``pick`` finds, with its limits as attributes."""

    def watts(coordinator: HanCoordinator) -> float | None:
        headroom = pick(figures(coordinator))
        return None if headroom is None else round(headroom.watts)

    def attributes(coordinator: HanCoordinator) -> dict[str, Any] | None:
        headroom = pick(figures(coordinator))
        if headroom is None:
            return None
        power = coordinator.live.power_w
        return {
            "interval_end": headroom.interval_end.isoformat(),
            "threshold_kwh": round(headroom.threshold_kwh, 3),
            "energy_kwh": round(headroom.energy_kwh, 3),
            "above_present_power": None
            if power is None
            else round(headroom.watts - power),
        }

    return HanSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=watts,
        attributes_fn=attributes,
    )


def _running_cost(
    key: str,
    value_fn: Callable[[HanCoordinator], float | None],
    last_reset_fn: Callable[[HanCoordinator], datetime | None],
) -> HanSensorEntityDescription:
    """Describe a cost that starts from zero each period (hour, day, month)."""
    return HanSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        native_unit_of_measurement=NOK,
        suggested_display_precision=2,
        value_fn=value_fn,
        last_reset_fn=last_reset_fn,
    )


TARIFF_SENSORS: Final[tuple[HanSensorEntityDescription, ...]] = (
    HanSensorEntityDescription(
        key="price_now",
        translation_key="price_now",
        native_unit_of_measurement=NOK_PER_KWH,
        suggested_display_precision=3,
        value_fn=_price_now,
        attributes_fn=_price_attributes,
    ),
    _running_cost(
        "cost_this_hour",
        _cost_this_hour,
        lambda coordinator: coordinator.live.hour_start,
    ),
    _running_cost(
        "cost_today", _cost_today, lambda coordinator: figures(coordinator).day_start
    ),
    _running_cost(
        "cost_this_month",
        _cost_this_month,
        lambda coordinator: _cost(coordinator).month.start,
    ),
    HanSensorEntityDescription(
        key="cost_last_month",
        translation_key="cost_last_month",
        hourly=True,
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=NOK,
        suggested_display_precision=2,
        value_fn=_last_month,
        attributes_fn=_last_month_attributes,
    ),
    HanSensorEntityDescription(
        key="cost_month_projection",
        translation_key="cost_month_projection",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=NOK,
        suggested_display_precision=0,
        value_fn=_projection,
    ),
    HanSensorEntityDescription(
        key="capacity_value",
        translation_key="capacity_value",
        hourly=True,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=3,
        value_fn=_capacity_value,
        attributes_fn=_capacity_attributes,
    ),
    HanSensorEntityDescription(
        key="capacity_step",
        translation_key="capacity_step",
        hourly=True,
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=NOK,
        suggested_display_precision=2,
        value_fn=_capacity_step,
        attributes_fn=_step_attributes,
    ),
    HanSensorEntityDescription(
        key="kw_to_next_step",
        translation_key="kw_to_next_step",
        hourly=True,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=3,
        value_fn=_kw_to_next,
    ),
    _headroom("power_headroom", lambda found: found.headroom),
    _headroom("step_headroom", lambda found: found.step_headroom),
)
