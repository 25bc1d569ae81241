"""Hour-correct long-term statistics from the meter's own hourly registers.

A register pushed at 14:00:10 belongs to 13:00–14:00. An energy sensor updated
then is compiled by the recorder into 14:00–15:00, one hour late, and priced at
the next hour's price; so the registers are written as external statistics
(``han_port:<meter>_energy_import``/``_export``) in the hour they belong to.
Rows are upserts, sums start at 0 and continue across restarts from the last
row, and hours missed while Home Assistant was down are filled evenly.
"""

from __future__ import annotations

from datetime import UTC, datetime
import re
from typing import Final

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
)
from homeassistant.const import UnitOfEnergy
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.recorder import get_instance
from homeassistant.util.unit_conversion import EnergyConverter

from .const import DOMAIN
from .han.model import Quantity
from .registers import HOUR, STATISTIC_REGISTERS, RegisterReading, spread

_SUFFIX: Final = {
    Quantity.ACTIVE_ENERGY_IMPORT: "energy_import",
    Quantity.ACTIVE_ENERGY_EXPORT: "energy_export",
}
_NAME: Final = {
    Quantity.ACTIVE_ENERGY_IMPORT: "energy import",
    Quantity.ACTIVE_ENERGY_EXPORT: "energy export",
}


def _slug(meter_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", meter_id.lower()).strip("_") or "meter"


def statistic_id(meter_id: str, quantity: Quantity) -> str:
    """Return the external statistic id for one register of one meter."""
    return f"{DOMAIN}:{_slug(meter_id)}_{_SUFFIX[quantity]}"


def cost_statistic_id(meter_id: str) -> str:
    """Return the external statistic id of one meter's hourly energy cost."""
    return f"{DOMAIN}:{_slug(meter_id)}_energy_cost"


class HourlyStatistics:
    """Books each hourly register reading into the hour that ended at its clock."""

    def __init__(self, hass: HomeAssistant, meter_id: str, name: str) -> None:
        """Prepare the statistics of one meter; ``async_load`` resumes them."""
        self._hass = hass
        self._name = name
        self.ids = {quantity: statistic_id(meter_id, quantity) for quantity in _SUFFIX}
        # Per register: end of the last booked hour, the register there (Wh)
        # and the running sum (Wh).
        self.last: dict[Quantity, tuple[datetime, float, float]] = {}
        self.rows_written = 0

    @property
    def enabled(self) -> bool:
        """Return whether the recorder runs (statistics need it)."""
        return "recorder" in self._hass.config.components

    async def async_load(self, snapshot: RegisterReading | None) -> None:
        """Resume from the last rows, or from the last stored hourly reading."""
        if not self.enabled:
            return
        recorder = get_instance(self._hass)
        # Rows booked just before a reload may still wait in the recorder's
        # queue; read only after they are written (as history's live stream
        # does), or the sums would resume from an older row or restart at 0.
        if commit := recorder.async_get_commit_future():
            await commit
        for quantity, sid in self.ids.items():
            found = await recorder.async_add_executor_job(
                get_last_statistics, self._hass, 1, sid, True, {"state", "sum"}
            )
            rows = found.get(sid)
            if rows:
                row = rows[0]
                end = datetime.fromtimestamp(row["start"], UTC) + HOUR
                self.last[quantity] = (
                    end,
                    round((row.get("state") or 0.0) * 1000, 3),
                    round((row.get("sum") or 0.0) * 1000, 3),
                )
            elif snapshot is not None and quantity in snapshot.values:
                self.last[quantity] = (
                    _boundary_of(snapshot),
                    snapshot.values[quantity],
                    0.0,
                )

    @callback
    def book(self, boundary: datetime, reading: RegisterReading) -> int:
        """Write the hours up to ``boundary``; return how many rows were written."""
        if not self.enabled:
            return 0
        written = 0
        for quantity in STATISTIC_REGISTERS:
            value = reading.values.get(quantity)
            if value is None:
                continue
            known = self.last.get(quantity)
            if known is None:
                self.last[quantity] = (boundary, value, 0.0)
                continue
            end, register, total = known
            if boundary <= end:
                continue
            rows: list[StatisticData] = []
            for start, energy in spread(end, boundary, register, value):
                total += energy
                register += energy
                rows.append(
                    StatisticData(start=start, state=register / 1000, sum=total / 1000)
                )
            self.last[quantity] = (boundary, value, total)
            async_add_external_statistics(self._hass, self._metadata(quantity), rows)
            written += len(rows)
        self.rows_written += written
        return written

    @callback
    def rebase(self, boundary: datetime, reading: RegisterReading) -> None:
        """Take a reset meter's registers as the new reference without a row."""
        for quantity in STATISTIC_REGISTERS:
            if (value := reading.values.get(quantity)) is not None:
                total = self.last[quantity][2] if quantity in self.last else 0.0
                self.last[quantity] = (boundary, value, total)

    def _metadata(self, quantity: Quantity) -> StatisticMetaData:
        return StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=f"{self._name} {_NAME[quantity]}",
            source=DOMAIN,
            statistic_id=self.ids[quantity],
            unit_class=EnergyConverter.UNIT_CLASS,
            unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        )


def _boundary_of(reading: RegisterReading) -> datetime:
    """Return the hour boundary of a stored hourly reading (UTC, whole hours)."""
    return reading.clock.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
