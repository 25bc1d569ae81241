"""The meter's state in Home Assistant: one listener, its telegrams, and what follows.

Telegrams arrive pushed by the meter; the coordinator scales them for current
transformers, passes energy registers through the guard, books hourly
statistics, integrates the running hour, keeps availability honest and raises
repair issues. Entities only read from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set as AbstractSet
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .connection import OPEN_ERRORS, HanListener, PortSettings, redact_url
from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_CURRENT_SCALE,
    CONF_ENCRYPTION_KEY,
    CONF_ENERGY_SCALE,
    CONF_MAIN_FUSE,
    CONF_MODEL,
    CONF_PARITY,
    CONF_PORT,
    CONF_POWER_SCALE,
    CONF_PRICE_ENTITY,
    CONF_VENDOR,
    DEFAULT_MAIN_FUSE,
    DERIVED_SECONDS,
    DOMAIN,
    ERROR_WINDOW_SECONDS,
    GARBLED_BYTES,
    LOGGER,
    NO_DATA_ISSUE_SECONDS,
    RECENT_FRAMES,
)
from .cost import TariffCost, build_installation
from .han.apdu import Keys
from .han.model import Quantity, Telegram
from .han.stream import StreamDecoder
from .live import LiveHour
from .registers import (
    HOUR,
    RegisterGuard,
    RegisterReading,
    Verdict,
    energy_registers,
    hour_boundary,
    resolve_meter_clock,
)
from .statistics import HourlyStatistics, cost_statistic_id
from .tariff import TariffError

type HanConfigEntry = ConfigEntry[HanCoordinator]


class Derived(StrEnum):
    """When a value worked out from the telegrams is worked out again.

    A ``StrEnum`` hashes in C: the listeners are looked up by it with every push.
    """

    SLOT = "slot"  # once per DERIVED_SECONDS of meter time
    HOUR = "hour"  # at a new hour, a booked hour or new prices


STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 10
# A reading this soon after an hour boundary is that hour's snapshot: List 3
# comes 0-10 s after the hour, P1 meters push every 1-10 s.
SNAPSHOT_WINDOW: Final = timedelta(minutes=5)
CLEAR_REJECTION_AFTER: Final = 24  # accepted hourly readings

MANUFACTURERS: Final = {
    "aidon": "Aidon",
    "kaifa": "Kaifa",
    "kamstrup": "Kamstrup",
    "iskraemeco": "Iskraemeco",
    "landis_gyr": "Landis+Gyr",
    "sagemcom": "Sagemcom",
}

_POWER_UNITS: Final = frozenset({"W", "var", "VA"})
_ENERGY_UNITS: Final = frozenset({"Wh", "varh"})


def manufacturer_name(vendor: str | None) -> str | None:
    """Return how a vendor writes its own name."""
    if vendor is None:
        return None
    return MANUFACTURERS.get(vendor, vendor.replace("_", " ").title())


def mask_meter_id(meter_id: str | None) -> str | None:
    """Mask a meter id (it identifies a household); the first digits name the maker."""
    if not meter_id:
        return meter_id
    keep = 4 if len(meter_id) > 8 else 0
    return meter_id[:keep] + "*" * (len(meter_id) - keep)


def stated_clock(stated: datetime, clock: datetime, zone: ZoneInfo) -> str:
    """Return a meter clock as stated, for the guard to spot a resent hour.

    The night the clocks go back, a meter that leaves out the UTC deviation
    (or writes Aidon's 0) states the same 02:00 twice; the two are told apart
    by the offset their resolved clocks have, or the second would be taken
    for a resend of the first.
    """
    wall = stated.replace(tzinfo=None)
    if (
        wall.replace(tzinfo=zone, fold=0).utcoffset()
        == wall.replace(tzinfo=zone, fold=1).utcoffset()
    ):
        return stated.isoformat()
    return clock.astimezone(zone).isoformat()


def keys_from(data: dict[str, Any]) -> Keys | None:
    """Return the decryption keys stored in entry data, if the meter needs them."""
    encryption = data.get(CONF_ENCRYPTION_KEY)
    if not encryption:
        return None
    authentication = data.get(CONF_AUTHENTICATION_KEY)
    return Keys(
        bytes.fromhex(encryption),
        bytes.fromhex(authentication) if authentication else None,
    )


def saved_state(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the store of the last accepted registers of one entry."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")


class HanCoordinator:
    """Owns the connection to one meter and everything derived from its telegrams."""

    def __init__(self, hass: HomeAssistant, entry: HanConfigEntry) -> None:
        """Set up from the entry; nothing is opened until ``async_start``."""
        self.hass = hass
        self.entry = entry
        data = entry.data
        options = entry.options
        self.meter_id: str = entry.unique_id or entry.entry_id
        self.vendor: str | None = data.get(CONF_VENDOR)
        self.model: str | None = data.get(CONF_MODEL)
        self.list_version: str | None = None
        self.port_label = redact_url(data[CONF_PORT])
        self.settings = PortSettings(
            data[CONF_PORT],
            int(data.get(CONF_BAUDRATE, 2400)),
            data.get(CONF_PARITY, "E"),
        )
        self.decoder = StreamDecoder(
            keys_from(dict(data)), vendor=self.vendor, keep_frames=RECENT_FRAMES
        )
        self.listener = HanListener(
            self.settings,
            self.decoder,
            on_telegram=self._telegram,
            on_status=self._status,
        )
        self._scales = {
            "power": float(options.get(CONF_POWER_SCALE, 1.0)),
            "current": float(options.get(CONF_CURRENT_SCALE, 1.0)),
            "energy": float(options.get(CONF_ENERGY_SCALE, 1.0)),
        }
        self._unscaled = all(scale == 1.0 for scale in self._scales.values())
        self.zone = ZoneInfo(hass.config.time_zone)
        self.guard = RegisterGuard(
            float(options.get(CONF_MAIN_FUSE, DEFAULT_MAIN_FUSE))
        )
        self.live = LiveHour(self.zone)
        self.statistics = HourlyStatistics(hass, self.meter_id, entry.title)
        self.values: dict[Quantity, Any] = {}
        # The quantities the last telegram carried.
        self.updated: AbstractSet[Quantity] = frozenset()
        self.meter_clock: datetime | None = None
        self.last_telegram: datetime | None = None
        self.available = False
        self.snapshot: RegisterReading | None = None
        self.last_rejection: Verdict | None = None
        # Tuples, so a listener may remove itself while they are called.
        self._listeners: dict[Quantity | Derived, tuple[CALLBACK_TYPE, ...]] = {}
        self._derived_slot: tuple[int, datetime | None] | None = None
        self._in_telegram = False
        self._new_quantity: Callable[[set[Quantity]], None] | None = None
        self._seen: set[Quantity] = set()
        self._down_logged = False
        self._no_data_timer: CALLBACK_TYPE | None = None
        self._rejection_logged: set[str] = set()
        self._accepted_since_rejection = 0
        self._window = (0, 0, 0)
        self._decryption_errors = 0
        self._device_id: str | None = None
        self._store = saved_state(hass, entry.entry_id)
        self.cost: TariffCost | None = None
        try:
            installation = build_installation(options)
        except (TariffError, ValueError, KeyError) as err:
            LOGGER.error("The tariff in the options cannot be used: %s", err)
            installation = None
        if installation is not None:
            self.cost = TariffCost(
                hass,
                entry.entry_id,
                entry.title,
                cost_statistic_id(self.meter_id),
                installation,
                options.get(CONF_PRICE_ENTITY),
                self._cost_changed,
            )

    # Lifecycle -------------------------------------------------------------

    @property
    def device_info(self) -> DeviceInfo:
        """Return the meter's device: serial number is the meter id."""
        return DeviceInfo(
            identifiers={(DOMAIN, self.meter_id)},
            name=self.entry.title,
            manufacturer=manufacturer_name(self.vendor),
            model=self.model,
            serial_number=self.meter_id,
            sw_version=self.list_version,
        )

    async def async_start(self) -> None:
        """Restore state and open the port; ``ConfigEntryNotReady`` if it cannot."""
        device = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, self.meter_id)},
            name=self.entry.title,
            manufacturer=manufacturer_name(self.vendor),
            model=self.model,
            serial_number=self.meter_id,
        )
        self._device_id = device.id
        self.list_version = self.list_version or device.sw_version
        stored = await self._store.async_load() or {}
        if "guard" in stored:
            self.guard.last = RegisterReading.from_dict(stored["guard"])
        if "snapshot" in stored:
            self.snapshot = RegisterReading.from_dict(stored["snapshot"])
        await self.statistics.async_load(self.snapshot)
        if self.cost is not None:
            await self.cost.async_load()
        try:
            await self.listener.async_open()
        except OPEN_ERRORS as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="cannot_open_port",
                translation_placeholders={"port": self.port_label, "error": str(err)},
            ) from err
        self.entry.async_create_background_task(
            self.hass, self.listener.async_run(), f"{DOMAIN} listener {self.port_label}"
        )
        self.entry.async_on_unload(
            async_track_time_interval(
                self.hass,
                self._check_errors,
                timedelta(seconds=ERROR_WINDOW_SECONDS),
                cancel_on_shutdown=True,
            )
        )
        self._schedule_no_data_issue()

    async def async_stop(self) -> None:
        """Close the port and save what the next start needs."""
        await self.listener.async_close()
        if self.cost is not None:
            await self.cost.async_stop()
        if self._no_data_timer is not None:
            self._no_data_timer()
            self._no_data_timer = None
        await self._store.async_save(self._stored())

    # Listeners -------------------------------------------------------------

    @callback
    def async_add_listener(
        self, update: CALLBACK_TYPE, key: Quantity | Derived = Derived.SLOT
    ) -> CALLBACK_TYPE:
        """Call ``update`` at availability changes and when its value may change.

        For a ``Quantity`` that is after each telegram carrying it. Values
        worked out from the telegrams (``Derived.SLOT``) follow once per
        ``DERIVED_SECONDS`` of the meter's time, at each new hour and when an
        hour or a price changes what they show: the energy this hour moves
        with every push, but writing it, the headrooms and the costs every two
        seconds would cost Home Assistant four times the work of the power
        for little use. ``Derived.HOUR`` values (last hour, last month, the
        capacity step) change only at a new hour or when an hour or a price
        changes them.
        """
        listeners = self._listeners
        listeners[key] = (*listeners.get(key, ()), update)

        def remove() -> None:
            left = list(listeners[key])
            left.remove(update)
            listeners[key] = tuple(left)

        return remove

    @callback
    def async_set_new_quantity_callback(
        self, new: Callable[[set[Quantity]], None]
    ) -> None:
        """Have the sensor platform add entities for quantities first seen later."""
        self._new_quantity = new
        self._seen.update(self.values)

    def _notify(self, keys: Iterable[Quantity | Derived]) -> None:
        listeners = self._listeners
        for key in keys:
            for update in listeners.get(key, ()):
                update()

    @callback
    def _cost_changed(self) -> None:
        """Refresh the derived values: a booked hour or new prices moved them.

        During a telegram that waits for its end, when the running hour has
        moved on too.
        """
        self._derived_slot = None
        if not self._in_telegram:
            self._notify((Derived.SLOT, Derived.HOUR))

    # Telegrams -------------------------------------------------------------

    @callback
    def _status(self, available: bool, reason: str | None) -> None:
        changed = available != self.available
        if available:
            if self._down_logged:
                LOGGER.info("Meter data on %s is back", self.port_label)
            self._down_logged = False
            self.available = True
            if self._no_data_timer is not None:
                self._no_data_timer()
                self._no_data_timer = None
            ir.async_delete_issue(self.hass, DOMAIN, self._issue_id("no_data"))
        else:
            if not self._down_logged:
                LOGGER.warning(
                    "No data from the meter on %s: %s; reconnecting",
                    self.port_label,
                    reason,
                )
                self._down_logged = True
            self.available = False
            self.live.stop()
            self._schedule_no_data_issue()
        self.updated = frozenset()
        self._derived_slot = None
        # The meter's values are written again only if their availability
        # changed; the derived ones are worked out again in any case.
        self._notify(
            tuple(self._listeners) if changed else (Derived.SLOT, Derived.HOUR)
        )

    @callback
    def _telegram(self, telegram: Telegram) -> None:
        """Take in one telegram; it runs for every push."""
        self._in_telegram = True
        try:
            now = dt_util.utcnow()
            self.last_telegram = now
            values = self._scaled(telegram)
            # What the telegram says of the meter is nearly always the text it
            # said before, the same object: compared by identity, the texts
            # need not even be read (see _identify).
            if (
                (telegram.vendor is not self.vendor and telegram.vendor is not None)
                or (telegram.model is not self.model and telegram.model is not None)
                or (
                    telegram.list_version is not self.list_version
                    and telegram.list_version is not None
                )
            ):
                self._identify(telegram)
            stated = telegram.meter_time or telegram.push_time
            if stated is not None:
                self.meter_clock = resolve_meter_clock(stated, now, self.zone)
                values[Quantity.METER_CLOCK] = self.meter_clock
            if registers := energy_registers(values):
                for quantity in registers:
                    # A P1 total summed from tariff registers was never a value.
                    values.pop(quantity, None)
                if self._registers(registers, stated, now):
                    values.update(registers)
            # Seconds since the epoch, worked out once: the live hour and the
            # slot of the derived values both count in them.
            at = now.timestamp()
            power = values.get(Quantity.ACTIVE_POWER_IMPORT)
            if isinstance(power, (int, float)):
                self.live.add_power(now, float(power), at)
            else:
                self.live.advance(now)
            self.values.update(values)
            self.updated = values.keys()
            if self._new_quantity is not None and not self._seen.issuperset(values):
                new = values.keys() - self._seen
                self._seen.update(new)
                self._new_quantity(new)
            slot = (int(at) // DERIVED_SECONDS, self.live.hour_start)
            if slot != self._derived_slot:
                known = self._derived_slot
                self._derived_slot = slot
                if known is None or known[1] != slot[1]:
                    self._notify((*values, Derived.SLOT, Derived.HOUR))
                else:
                    self._notify((*values, Derived.SLOT))
            else:
                self._notify(values)
        finally:
            self._in_telegram = False

    def _scaled(self, telegram: Telegram) -> dict[Quantity, Any]:
        """Index the values by quantity, scaled for current transformers."""
        if self._unscaled:
            return dict(telegram.values_by_quantity())
        readings = telegram.by_quantity()
        scales = self._scales
        values: dict[Quantity, Any] = {}
        for quantity, reading in readings.items():
            value = reading.value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if reading.unit in _POWER_UNITS:
                    value *= scales["power"]
                elif reading.unit == "A":
                    value *= scales["current"]
                elif reading.unit in _ENERGY_UNITS:
                    value *= scales["energy"]
            values[quantity] = value
        return values

    def _identify(self, telegram: Telegram) -> None:
        changed = False
        if telegram.vendor and telegram.vendor != self.vendor:
            changed = True
        if telegram.model and telegram.model != self.model:
            changed = True
        if telegram.list_version and telegram.list_version != self.list_version:
            changed = True
        # Keep the telegram's own texts, equal or new: the next ones are the same.
        self.vendor = telegram.vendor or self.vendor
        self.model = telegram.model or self.model
        self.list_version = telegram.list_version or self.list_version
        if changed and self._device_id is not None:
            dr.async_get(self.hass).async_update_device(
                self._device_id,
                manufacturer=manufacturer_name(self.vendor),
                model=self.model,
                sw_version=self.list_version,
            )

    # Energy registers ------------------------------------------------------

    def _registers(
        self, registers: dict[Quantity, float], stated: datetime | None, now: datetime
    ) -> bool:
        clock = self.meter_clock if stated is not None and self.meter_clock else now
        reading = RegisterReading(
            clock=clock,
            stated=stated_clock(stated, clock, self.zone)
            if stated is not None
            else now.isoformat(),
            values=registers,
        )
        verdict = self.guard.check(reading, now)
        if not verdict.accepted:
            self._rejected(verdict)
            return False
        boundary = hour_boundary(clock, self.zone)
        if verdict.rebaselined:
            LOGGER.warning(
                "The meter's energy registers restarted lower (%s); the meter was "
                "reset or replaced, continuing from the new values",
                verdict.detail,
            )
            self.statistics.rebase(boundary, reading)
            if self.cost is not None:
                self.cost.rebase(boundary, reading)
            self.snapshot = reading
        elif clock - boundary <= SNAPSHOT_WINDOW and (
            self.snapshot is None
            or hour_boundary(self.snapshot.clock, self.zone) < boundary
        ):
            self._hourly(boundary, reading)
        self._accepted_since_rejection += 1
        if self._accepted_since_rejection == CLEAR_REJECTION_AFTER:
            ir.async_delete_issue(
                self.hass, DOMAIN, self._issue_id("rejected_register")
            )
            self._rejection_logged.clear()
        self._store.async_delay_save(self._stored, SAVE_DELAY)
        return True

    def _hourly(self, boundary: datetime, reading: RegisterReading) -> None:
        previous = self.snapshot
        self.snapshot = reading
        # The last hour's energy (and, with a tariff, its cost) is known now.
        self._derived_slot = None
        self.statistics.book(boundary, reading)
        if self.cost is not None:
            self.cost.add_reading(boundary, reading)
        imported = reading.values.get(Quantity.ACTIVE_ENERGY_IMPORT)
        if (
            previous is not None
            and imported is not None
            and Quantity.ACTIVE_ENERGY_IMPORT in previous.values
            and hour_boundary(previous.clock, self.zone) == boundary - HOUR
        ):
            self.live.register_hour(
                boundary - HOUR,
                imported - previous.values[Quantity.ACTIVE_ENERGY_IMPORT],
            )

    def _rejected(self, verdict: Verdict) -> None:
        self.last_rejection = verdict
        self._accepted_since_rejection = 0
        reason = str(verdict.reason)
        if reason not in self._rejection_logged:
            self._rejection_logged.add(reason)
            LOGGER.warning(
                "Rejected an energy register reading from the meter on %s (%s): %s",
                self.port_label,
                reason,
                verdict.detail,
            )
        else:
            LOGGER.debug("Rejected register reading (%s): %s", reason, verdict.detail)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id("rejected_register"),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=f"rejected_register_{reason}",
            translation_placeholders={
                "title": self.entry.title,
                "detail": verdict.detail,
                "count": str(sum(self.guard.rejected.values())),
            },
        )

    def _stored(self) -> dict[str, Any]:
        stored: dict[str, Any] = {}
        if self.guard.last is not None:
            stored["guard"] = self.guard.last.as_dict()
        if self.snapshot is not None:
            stored["snapshot"] = self.snapshot.as_dict()
        return stored

    # Repairs ---------------------------------------------------------------

    def _issue_id(self, kind: str) -> str:
        return f"{kind}_{self.entry.entry_id}"

    def _schedule_no_data_issue(self) -> None:
        if self._no_data_timer is None:
            self._no_data_timer = async_call_later(
                self.hass, NO_DATA_ISSUE_SECONDS, self._raise_no_data_issue
            )

    @callback
    def _raise_no_data_issue(self, _now: datetime) -> None:
        self._no_data_timer = None
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id("no_data"),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="no_data",
            translation_placeholders={
                "title": self.entry.title,
                "port": self.port_label,
                "minutes": str(NO_DATA_ISSUE_SECONDS // 60),
            },
        )

    @callback
    def _check_errors(self, _now: datetime) -> None:
        """Raise the parity issue when a window has garbled data and no telegrams.

        Wrong parity or baud rate garbles bytes. Where a frame's flag survives,
        the frame fails its checksum; but a UART that lost the bit timing after
        a framing error resynchronises on a wrong edge, and then not even the
        flags survive: the bytes fit no frame at all.
        """
        stats = self.decoder.stats
        errors = stats.checksum_errors + stats.frame_errors
        telegrams = stats.telegrams
        new_errors = errors - self._window[0]
        new_telegrams = telegrams - self._window[1]
        new_discarded = stats.discarded_bytes - self._window[2]
        self._window = (errors, telegrams, stats.discarded_bytes)
        issue_id = self._issue_id("checksum_errors")
        if (new_errors >= 5 and new_errors > new_telegrams) or (
            new_telegrams == 0 and new_discarded >= GARBLED_BYTES
        ):
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="checksum_errors",
                translation_placeholders={
                    "title": self.entry.title,
                    "port": self.port_label,
                    "line": self.settings.line,
                    "errors": str(new_errors),
                    "bytes": str(new_discarded),
                    "seconds": str(ERROR_WINDOW_SECONDS),
                },
            )
        elif new_telegrams > 0 and new_errors * 10 <= new_telegrams:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        # Frames that pass their checksums but do not decrypt mean the keys
        # changed (a new meter, or the grid company renewed them).
        new_decryption_errors = stats.decryption_errors - self._decryption_errors
        self._decryption_errors = stats.decryption_errors
        if new_decryption_errors >= 3 and new_telegrams == 0:
            self.entry.async_start_reauth(self.hass)
