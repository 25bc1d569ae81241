"""Sensors for what the meter sends, the running hour and the connection."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final, override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactiveEnergy,
    UnitOfReactivePower,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .coordinator import Derived, HanConfigEntry, HanCoordinator
from .entity import HanEntity, HanSensorEntityDescription
from .han.model import Quantity
from .tariff_sensors import TARIFF_SENSORS

PARALLEL_UPDATES = 0

PERCENT: Final = "%"


def _shown(value: object, factor: float) -> StateType:
    """Return a number the meter sent as its sensor shows it (else ``None``)."""
    if isinstance(value, (int, float)):
        return value if factor == 1.0 else round(value * factor, 6)
    return None


def _reading(
    quantity: Quantity, factor: float = 1.0
) -> Callable[[HanCoordinator], StateType]:
    def value(coordinator: HanCoordinator) -> StateType:
        return _shown(coordinator.values.get(quantity), factor)

    return value


def _measured(
    quantity: Quantity,
    device_class: SensorDeviceClass,
    unit: str | None,
    *,
    factor: float = 1.0,
    enabled: bool = True,
    precision: int | None = None,
) -> HanSensorEntityDescription:
    return HanSensorEntityDescription(
        key=str(quantity),
        translation_key=str(quantity),
        quantity=quantity,
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=unit,
        suggested_display_precision=precision,
        entity_registry_enabled_default=enabled,
        factor=factor,
        value_fn=_reading(quantity, factor),
    )


def _register(
    quantity: Quantity,
    device_class: SensorDeviceClass,
    unit: str,
    *,
    enabled: bool = True,
) -> HanSensorEntityDescription:
    return HanSensorEntityDescription(
        key=str(quantity),
        translation_key=str(quantity),
        quantity=quantity,
        device_class=device_class,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=unit,
        suggested_display_precision=3,
        entity_registry_enabled_default=enabled,
        restore=True,
        factor=0.001,
        value_fn=_reading(quantity, 0.001),
    )


_P = SensorDeviceClass.POWER
_Q = SensorDeviceClass.REACTIVE_POWER
_W = UnitOfPower.WATT
_VAR = UnitOfReactivePower.VOLT_AMPERE_REACTIVE
_KWH = UnitOfEnergy.KILO_WATT_HOUR
_KVARH = UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR

QUANTITY_SENSORS: Final[tuple[HanSensorEntityDescription, ...]] = (
    _measured(Quantity.ACTIVE_POWER_IMPORT, _P, _W, precision=0),
    _measured(Quantity.ACTIVE_POWER_EXPORT, _P, _W, precision=0),
    _measured(Quantity.REACTIVE_POWER_IMPORT, _Q, _VAR, precision=0),
    _measured(Quantity.REACTIVE_POWER_EXPORT, _Q, _VAR, precision=0),
    _measured(
        Quantity.APPARENT_POWER_IMPORT,
        SensorDeviceClass.APPARENT_POWER,
        UnitOfApparentPower.VOLT_AMPERE,
        precision=0,
    ),
    _measured(
        Quantity.APPARENT_POWER_EXPORT,
        SensorDeviceClass.APPARENT_POWER,
        UnitOfApparentPower.VOLT_AMPERE,
        precision=0,
    ),
    *(
        _measured(Quantity(f"active_power_{way}_l{phase}"), _P, _W, precision=0)
        for way in ("import", "export")
        for phase in (1, 2, 3)
    ),
    *(
        _measured(
            Quantity(f"reactive_power_{way}_l{phase}"),
            _Q,
            _VAR,
            enabled=False,
            precision=0,
        )
        for way in ("import", "export")
        for phase in (1, 2, 3)
    ),
    *(
        _measured(
            Quantity(f"current_l{phase}"),
            SensorDeviceClass.CURRENT,
            UnitOfElectricCurrent.AMPERE,
            precision=2,
        )
        for phase in (1, 2, 3)
    ),
    _measured(
        Quantity.CURRENT_NEUTRAL,
        SensorDeviceClass.CURRENT,
        UnitOfElectricCurrent.AMPERE,
        enabled=False,
        precision=2,
    ),
    *(
        _measured(
            Quantity(f"voltage_l{phase}"),
            SensorDeviceClass.VOLTAGE,
            UnitOfElectricPotential.VOLT,
            precision=1,
        )
        for phase in (1, 2, 3)
    ),
    _measured(
        Quantity.POWER_FACTOR,
        SensorDeviceClass.POWER_FACTOR,
        PERCENT,
        factor=100,
        precision=0,
    ),
    *(
        _measured(
            Quantity(f"power_factor_l{phase}"),
            SensorDeviceClass.POWER_FACTOR,
            PERCENT,
            factor=100,
            enabled=False,
            precision=0,
        )
        for phase in (1, 2, 3)
    ),
    _measured(
        Quantity.FREQUENCY,
        SensorDeviceClass.FREQUENCY,
        UnitOfFrequency.HERTZ,
        precision=2,
    ),
    _register(Quantity.ACTIVE_ENERGY_IMPORT, SensorDeviceClass.ENERGY, _KWH),
    _register(Quantity.ACTIVE_ENERGY_EXPORT, SensorDeviceClass.ENERGY, _KWH),
    _register(
        Quantity.REACTIVE_ENERGY_IMPORT, SensorDeviceClass.REACTIVE_ENERGY, _KVARH
    ),
    _register(
        Quantity.REACTIVE_ENERGY_EXPORT, SensorDeviceClass.REACTIVE_ENERGY, _KVARH
    ),
    *(
        _register(
            Quantity(f"active_energy_{way}_t{tariff}"), SensorDeviceClass.ENERGY, _KWH
        )
        for way in ("import", "export")
        for tariff in (1, 2, 3, 4)
    ),
    *(
        _register(
            Quantity(f"active_energy_{way}_l{phase}"),
            SensorDeviceClass.ENERGY,
            _KWH,
            enabled=False,
        )
        for way in ("import", "export")
        for phase in (1, 2, 3)
    ),
    HanSensorEntityDescription(
        key=str(Quantity.METER_CLOCK),
        translation_key=str(Quantity.METER_CLOCK),
        quantity=Quantity.METER_CLOCK,
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.meter_clock,
    ),
)
BY_QUANTITY: Final = {
    description.quantity: description
    for description in QUANTITY_SENSORS
    if description.quantity is not None
}


def _kwh(value: float | None) -> float | None:
    return None if value is None else round(value / 1000, 4)


def _projected(coordinator: HanCoordinator) -> float | None:
    return _kwh(coordinator.live.projected_wh(dt_util.utcnow()))


def _this_hour(coordinator: HanCoordinator) -> float | None:
    live = coordinator.live
    return _kwh(live.energy_wh) if live.hour_start is not None else None


def _last_hour_attributes(coordinator: HanCoordinator) -> dict[str, Any]:
    """Tell whether the last hour is the register's exact value or an estimate."""
    live = coordinator.live
    return {
        "hour_start": live.last_hour_start.isoformat()
        if live.last_hour_start
        else None,
        "from_registers": live.last_hour_exact,
    }


def _counter(
    key: str, value_fn: Callable[[HanCoordinator], StateType]
) -> HanSensorEntityDescription:
    """Describe a diagnostic counter: rarely looked at, so disabled by default."""
    return HanSensorEntityDescription(
        key=key,
        translation_key=key,
        entity_category=EntityCategory.DIAGNOSTIC,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
        value_fn=value_fn,
    )


# Always created: they do not depend on which lists the meter sends.
FIXED_SENSORS: Final[tuple[HanSensorEntityDescription, ...]] = (
    HanSensorEntityDescription(
        key="energy_this_hour",
        translation_key="energy_this_hour",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL,
        native_unit_of_measurement=_KWH,
        suggested_display_precision=3,
        value_fn=_this_hour,
        last_reset_fn=lambda coordinator: coordinator.live.hour_start,
    ),
    HanSensorEntityDescription(
        key="projected_energy_this_hour",
        translation_key="projected_energy_this_hour",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=_KWH,
        suggested_display_precision=3,
        value_fn=_projected,
    ),
    HanSensorEntityDescription(
        key="energy_last_hour",
        translation_key="energy_last_hour",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=_KWH,
        suggested_display_precision=3,
        restore=True,
        hourly=True,
        value_fn=lambda coordinator: _kwh(coordinator.live.last_hour_wh),
        attributes_fn=_last_hour_attributes,
    ),
    _counter("frames", lambda coordinator: coordinator.decoder.stats.frames),
    _counter(
        "checksum_errors", lambda coordinator: coordinator.decoder.stats.checksum_errors
    ),
    _counter("reconnects", lambda coordinator: coordinator.listener.stats.reconnects),
    _counter(
        "rejected_registers",
        lambda coordinator: sum(coordinator.guard.rejected.values()),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HanConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the sensors the meter has sent before, and more as they appear."""
    coordinator = entry.runtime_data
    registry = er.async_get(hass)
    prefix = f"{coordinator.meter_id}_"
    known: set[Quantity] = set(coordinator.values)
    for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
        key = registered.unique_id.removeprefix(prefix)
        if key in Quantity.__members__.values():
            known.add(Quantity(key))

    def entities(quantities: Iterable[Quantity]) -> list[HanSensor]:
        return [
            HanSensor(coordinator, BY_QUANTITY[quantity])
            for quantity in sorted(quantities)
            if quantity in BY_QUANTITY
        ]

    @callback
    def add_new(quantities: set[Quantity]) -> None:
        if new := entities(quantities - known):
            known.update(quantities)
            async_add_entities(new)

    tariff = TARIFF_SENSORS if coordinator.cost is not None else ()
    async_add_entities(
        [
            *entities(known),
            *(HanSensor(coordinator, d) for d in (*FIXED_SENSORS, *tariff)),
        ]
    )
    coordinator.async_set_new_quantity_callback(add_new)


class HanSensor(HanEntity, RestoreSensor, SensorEntity):
    """A sensor whose value comes from the meter's latest pushes."""

    entity_description: HanSensorEntityDescription
    # The coming prices change every day; the recorder need not keep them.
    _unrecorded_attributes = frozenset({"ahead"})

    def __init__(
        self, coordinator: HanCoordinator, description: HanSensorEntityDescription
    ) -> None:
        """Set up the sensor and read the value known now."""
        super().__init__(coordinator, description)
        self._restored: StateType | datetime = None
        # Plain attributes, read by the properties below: Home Assistant's
        # ``_attr_`` setters would clear its property caches on every update.
        self._value: StateType | datetime = None
        self._attributes: dict[str, Any] | None = None
        self._reset: datetime | None = None
        self._was_available = coordinator.available
        self._set_value()

    @override
    async def async_added_to_hass(self) -> None:
        """Restore hourly values so they are not unknown until the next hour."""
        await super().async_added_to_hass()
        if self.entity_description.restore and self._value is None:
            last = await self.async_get_last_sensor_data()
            if last is not None and isinstance(last.native_value, (int, float)):
                self._restored = last.native_value
                self._value = last.native_value

    def _set_value(self) -> bool:
        """Read value, last reset and attributes; return whether any changed."""
        description = self.entity_description
        coordinator = self.coordinator
        value = description.value_fn(coordinator)
        if value is None:
            value = self._restored
        last_reset = (
            None
            if description.last_reset_fn is None
            else description.last_reset_fn(coordinator)
        )
        attributes = (
            None
            if description.attributes_fn is None
            else description.attributes_fn(coordinator)
        )
        if (
            value == self._value
            and last_reset == self._reset
            and attributes == self._attributes
        ):
            return False
        self._value = value
        self._reset = last_reset
        self._attributes = attributes
        return True

    @override
    def _handle_update(self) -> None:
        """Write the state when the meter sent it, or when a derived value changed.

        A value the meter sends is written with each telegram that carries it,
        so its last report follows the meter; the coordinator calls its
        sensor only then and when the availability changes. The derived
        sensors (the running hour, the tariff) are worked out when the
        coordinator says they are due and written only when what they show
        changed: most of them change a few times an hour, and each write
        costs Home Assistant more than working them out.
        """
        description = self.entity_description
        coordinator = self.coordinator
        if description.quantity is not None:
            factor = description.factor
            if factor is None:
                value = description.value_fn(coordinator)
            else:  # as value_fn reads it, one call less for each value
                value = _shown(coordinator.values.get(description.quantity), factor)
            self._value = self._restored if value is None else value
            self.async_write_ha_state()
            return
        available = coordinator.available
        if not self._set_value() and self._was_available == available:
            return
        self._was_available = available
        self.async_write_ha_state()

    @property
    @override
    def native_value(self) -> StateType | datetime:
        return self._value

    @property
    @override
    def last_reset(self) -> datetime | None:
        return self._reset

    @property
    @override
    def available(self) -> bool:
        return self.coordinator.available

    @property
    @override
    def _listen_to(self) -> Quantity | Derived:
        description = self.entity_description
        if description.quantity is not None:
            return description.quantity
        return Derived.HOUR if description.hourly else Derived.SLOT

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return what the description adds to the state, as of the last update."""
        return self._attributes
