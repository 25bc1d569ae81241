"""Sensors of the tariff: price now, costs, capacity step and power headroom.

Created only when a grid company is set in the options. Money is NOK incl
VAT; the monthly cost includes the capacity step and the supplier's fee, the
hourly and daily costs are what the energy itself costs (energy part, taxes,
supply and the scheme).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from fractions import Fraction
from typing import Any, Final

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import UnitOfPower
from homeassistant.util import dt as dt_util

from .coordinator import HanCoordinator
from .cost import TariffCost
from .entity import HanSensorEntityDescription
from .registers import HOUR
from .tariff import exact

NOK: Final = "NOK"
NOK_PER_KWH: Final = "NOK/kWh"


def _cost(coordinator: HanCoordinator) -> TariffCost:
    cost = coordinator.cost
    assert cost is not None  # the sensors exist only with a tariff
    return cost


def energy_so_far(coordinator: HanCoordinator, now: datetime) -> Fraction:
    """Return the running hour's energy (kWh) from the integrated List 1 power."""
    live = coordinator.live
    live.advance(now)
    if live.hour_start is None or not live.hour_start <= now < live.hour_start + HOUR:
        return Fraction(0)
    return exact(round(live.energy_wh, 3)) / 1000


def _money(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _price_now(coordinator: HanCoordinator) -> float | None:
    price = _cost(coordinator).price_now(dt_util.utcnow())
    return None if price is None else round(float(price.total), 4)


def _price_attributes(coordinator: HanCoordinator) -> dict[str, Any] | None:
    cost = _cost(coordinator)
    now = dt_util.utcnow()
    price = cost.price_now(now)
    if price is None:
        return None
    return {
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
            for coming in cost.prices_ahead(now)
        ],
    }


def _running(coordinator: HanCoordinator) -> Fraction | None:
    now = dt_util.utcnow()
    return _cost(coordinator).running_hour(now, energy_so_far(coordinator, now))


def _cost_this_hour(coordinator: HanCoordinator) -> float | None:
    return _money(_running(coordinator))


def _cost_today(coordinator: HanCoordinator) -> float | None:
    today = _cost(coordinator).today(dt_util.utcnow())
    running = _running(coordinator)
    if today is None or running is None:
        return None
    return _money(today + running)


def _cost_this_month(coordinator: HanCoordinator) -> float | None:
    bill = _cost(coordinator).state.bill
    running = _running(coordinator)
    if bill is None or running is None:
        return None
    return _money(bill.total + running)


def _last_month(coordinator: HanCoordinator) -> float | None:
    last = _cost(coordinator).last_month
    return None if last is None else _money(last[1])


def _last_month_attributes(coordinator: HanCoordinator) -> dict[str, Any] | None:
    last = _cost(coordinator).last_month
    return None if last is None else {"month": last[0]}


def _projection(coordinator: HanCoordinator) -> float | None:
    projection = _cost(coordinator).projection(dt_util.utcnow())
    return None if projection is None else _money(projection.total)


def _capacity_value(coordinator: HanCoordinator) -> float | None:
    tracker = _cost(coordinator).state.tracker
    if tracker is None or not tracker.measured:
        return None
    return round(float(tracker.capacity_kw), 3)


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


def _capacity_step(coordinator: HanCoordinator) -> float | None:
    tracker = _cost(coordinator).state.tracker
    return None if tracker is None else _money(tracker.monthly_price)


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


def _kw_to_next(coordinator: HanCoordinator) -> float | None:
    tracker = _cost(coordinator).state.tracker
    left = None if tracker is None else tracker.kw_to_next_step
    return None if left is None else round(float(left), 3)


def _headroom(coordinator: HanCoordinator) -> float | None:
    now = dt_util.utcnow()
    headroom = _cost(coordinator).headroom(now, energy_so_far(coordinator, now))
    return None if headroom is None else round(float(headroom.watts))


def _headroom_attributes(coordinator: HanCoordinator) -> dict[str, Any] | None:
    now = dt_util.utcnow()
    headroom = _cost(coordinator).headroom(now, energy_so_far(coordinator, now))
    if headroom is None:
        return None
    power = coordinator.live.power_w
    return {
        "interval_end": headroom.interval_end.isoformat(),
        "threshold_kwh": round(float(headroom.threshold_kwh), 3),
        "energy_kwh": round(float(headroom.energy_kwh), 3),
        "above_present_power": None
        if power is None
        else round(float(headroom.watts) - power),
    }


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
    _running_cost("cost_today", _cost_today, lambda _: dt_util.start_of_local_day()),
    _running_cost(
        "cost_this_month",
        _cost_this_month,
        lambda coordinator: _cost(coordinator).month.start,
    ),
    HanSensorEntityDescription(
        key="cost_last_month",
        translation_key="cost_last_month",
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
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=3,
        value_fn=_capacity_value,
        attributes_fn=_capacity_attributes,
    ),
    HanSensorEntityDescription(
        key="capacity_step",
        translation_key="capacity_step",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=NOK,
        suggested_display_precision=2,
        value_fn=_capacity_step,
        attributes_fn=_step_attributes,
    ),
    HanSensorEntityDescription(
        key="kw_to_next_step",
        translation_key="kw_to_next_step",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=3,
        value_fn=_kw_to_next,
    ),
    HanSensorEntityDescription(
        key="power_headroom",
        translation_key="power_headroom",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_headroom,
        attributes_fn=_headroom_attributes,
    ),
)
