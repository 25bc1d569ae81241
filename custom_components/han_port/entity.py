"""Base entity: one device per meter, updated when the meter pushes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import SensorEntityDescription
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.typing import StateType

from .coordinator import Derived, HanCoordinator
from .han.model import Quantity


class HanEntity(Entity):
    """An entity of a meter; ``_handle_update`` runs when its value may have changed."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self, coordinator: HanCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to its meter's device."""
        self.coordinator = coordinator
        self.entity_description = description
        self._attr_unique_id = f"{coordinator.meter_id}_{description.key}"
        self._attr_device_info = coordinator.device_info

    @property
    def available(self) -> bool:
        """Return whether the meter's data is flowing."""
        return self.coordinator.available

    async def async_added_to_hass(self) -> None:
        """Follow the meter's pushes while the entity exists."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.async_add_listener(self._handle_update, self._listen_to)
        )

    @property
    def _listen_to(self) -> Quantity | Derived:
        """Return the meter's value this entity shows, or when a derived one changes."""
        return Derived.SLOT

    def _handle_update(self) -> None:
        """Write the state; subclasses skip telegrams that do not concern them."""
        self.async_write_ha_state()


@dataclass(frozen=True, kw_only=True)
class HanSensorEntityDescription(SensorEntityDescription):
    """A sensor and how its value is read from the coordinator."""

    value_fn: Callable[[HanCoordinator], StateType | datetime]
    quantity: Quantity | None = None
    # A number the meter sends, shown times ``factor`` (``value_fn`` reads it so too).
    factor: float | None = None
    # Derived from the month's state or the last hour: worked out hourly.
    hourly: bool = False
    restore: bool = False
    last_reset_fn: Callable[[HanCoordinator], datetime | None] | None = None
    attributes_fn: Callable[[HanCoordinator], dict[str, Any] | None] | None = None
