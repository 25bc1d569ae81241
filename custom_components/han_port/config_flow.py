"""Config flow: pick the port, and the integration listens to find out the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final, override

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    SerialPortSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

# Home Assistant validates with probatio since 2026.10 and types its flow
# forms with it; older releases use voluptuous, which has the same API.
try:
    import probatio as vol
except ImportError:  # pragma: no cover - Home Assistant before 2026.10
    import voluptuous as vol  # type: ignore[no-redef]

from .connection import redact_url
from .const import (
    BAUDRATES,
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_CAPACITY_STEPS,
    CONF_CURRENT_SCALE,
    CONF_DAY_PRICE,
    CONF_ENCRYPTION_KEY,
    CONF_ENERGY_SCALE,
    CONF_FIXED_PRICE,
    CONF_GRID_COMPANY,
    CONF_MAIN_FUSE,
    CONF_MARKUP,
    CONF_MODEL,
    CONF_MONTHLY_FEE,
    CONF_NIGHT_PRICE,
    CONF_PARITY,
    CONF_PORT,
    CONF_POWER_SCALE,
    CONF_PRICE_ENTITY,
    CONF_SCHEME,
    CONF_TAX_ZONE,
    CONF_VENDOR,
    DEFAULT_MAIN_FUSE,
    DOMAIN,
    GRID_CUSTOM,
    GRID_NONE,
    PARITIES,
    TARIFF_OPTIONS,
    ZONE_AUTO,
)
from .coordinator import HanConfigEntry, keys_from, manufacturer_name
from .cost import parse_steps
from .han.apdu import Keys
from .han.stream import StreamDecoder
from .probe import AUTO_CANDIDATES, PortUnavailable, ProbeResult, probe
from .tariff import Scheme, TaxZone, list_grid_companies

_KEY_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_KEYS_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_ENCRYPTION_KEY): _KEY_SELECTOR,
        vol.Optional(CONF_AUTHENTICATION_KEY): _KEY_SELECTOR,
    }
)


def _recent_frames(entry: HanConfigEntry) -> list[bytes]:
    """Return the frames a loaded entry kept, or none."""
    if entry.state is not ConfigEntryState.LOADED:
        return []
    return list(entry.runtime_data.decoder.recent_frames)


def _decrypts(frames: list[bytes], keys: Keys | None) -> bool:
    """Return whether the keys turn any of the frames into a telegram."""
    decoder = StreamDecoder(keys)
    return any(decoder.feed(frame) for frame in frames)


def _parse_key(text: str | None) -> bytes | None:
    """Return a 16-byte AES key written as hex (spaces and colons allowed)."""
    if not text:
        return None
    cleaned = "".join(ch for ch in text if ch not in " :-").lower()
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        return None
    return key if len(key) == 16 else None


# A price in NOK/kWh ex VAT, typed in: the tariff and custom-tariff steps.
PRICE_SELECTOR: Final = NumberSelector(
    NumberSelectorConfig(
        min=0,
        max=100,
        step="any",
        mode=NumberSelectorMode.BOX,
        unit_of_measurement="NOK/kWh",
    )
)


class HanPortConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a meter: the port first, then listening tells the rest."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing known."""
        self._port = ""
        self._candidates: tuple[tuple[int, str], ...] = AUTO_CANDIDATES
        self._keys: Keys | None = None
        self._key_text: dict[str, str] = {}
        self._task: asyncio.Task[ProbeResult] | None = None
        self._result: ProbeResult | None = None
        self._error: str | None = None

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: HanConfigEntry) -> HanPortOptionsFlow:
        """Return the options flow (scale factors, main fuse)."""
        return HanPortOptionsFlow()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the port the HAN adapter is on."""
        if user_input is not None:
            self._port = user_input[CONF_PORT].strip()
            self._candidates = AUTO_CANDIDATES
            return await self.async_step_detect()
        return self._port_form("user")

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the meter to another port or URL; it must still be the same meter."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            self._port = user_input[CONF_PORT].strip()
            stored = (int(entry.data[CONF_BAUDRATE]), str(entry.data[CONF_PARITY]))
            self._candidates = (
                stored,
                *(candidate for candidate in AUTO_CANDIDATES if candidate != stored),
            )
            self._keys = keys_from(dict(entry.data))
            return await self.async_step_detect()
        self._port = self._port or entry.data[CONF_PORT]
        return self._port_form("reconfigure")

    def _port_form(self, step_id: str) -> ConfigFlowResult:
        errors = {"base": self._error} if self._error else {}
        self._error = None
        schema = vol.Schema({vol.Required(CONF_PORT): SerialPortSelector()})
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                schema, {CONF_PORT: self._port} if self._port else {}
            ),
            errors=errors,
        )

    async def async_step_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set baud rate and parity by hand when listening found nothing."""
        if user_input is not None:
            self._candidates = (
                (int(user_input[CONF_BAUDRATE]), str(user_input[CONF_PARITY])),
            )
            return await self.async_step_detect()
        schema = vol.Schema(
            {
                vol.Required(CONF_BAUDRATE, default=str(BAUDRATES[0])): SelectSelector(
                    SelectSelectorConfig(
                        options=[str(rate) for rate in BAUDRATES],
                        mode=SelectSelectorMode.DROPDOWN,
                        custom_value=True,
                    )
                ),
                vol.Required(CONF_PARITY, default=PARITIES[0]): SelectSelector(
                    SelectSelectorConfig(
                        options=list(PARITIES),
                        mode=SelectSelectorMode.LIST,
                        translation_key="parity",
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="manual",
            data_schema=schema,
            description_placeholders={"port": redact_url(self._port)},
        )

    async def async_step_detect(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Listen on the port, showing progress, until the meter is identified."""
        if self._task is None:
            self._task = self.hass.async_create_task(
                probe(self._port, self._candidates, keys=self._keys)
            )
        if not self._task.done():
            return self.async_show_progress(
                step_id="detect",
                progress_action="listening",
                progress_task=self._task,
                description_placeholders={"port": redact_url(self._port)},
            )
        task, self._task = self._task, None
        try:
            self._result = result = task.result()
        except PortUnavailable:
            self._error = "cannot_connect"
            return self.async_show_progress_done(next_step_id=self._port_step)
        if result.settings is None:
            return self.async_show_progress_done(next_step_id="not_found")
        if result.needs_key or result.wrong_key:
            if self._keys is not None:
                self._error = "wrong_key"
            return self.async_show_progress_done(next_step_id="encryption_key")
        if result.identified is None:
            return self.async_show_progress_done(next_step_id="no_meter_id")
        return self.async_show_progress_done(next_step_id="found")

    @property
    def _port_step(self) -> str:
        return "reconfigure" if self.source == SOURCE_RECONFIGURE else "user"

    async def async_step_not_found(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Nothing valid was heard: say why that usually is, offer the ways on."""
        return self.async_show_menu(
            step_id="not_found",
            menu_options=[self._port_step, "manual"],
            description_placeholders=self._placeholders(),
        )

    async def async_step_no_meter_id(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Explain that valid data came but nothing named the meter."""
        return self.async_show_menu(
            step_id="no_meter_id",
            menu_options=[self._port_step, "manual"],
            description_placeholders=self._placeholders(),
        )

    async def async_step_encryption_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the keys of an encrypted meter; they are checked by decrypting."""
        errors: dict[str, str] = {}
        if self._error:
            errors["base"], self._error = self._error, None
        if user_input is not None and self._read_keys(user_input, errors):
            assert self._result is not None and self._result.settings is not None
            settings = self._result.settings
            self._candidates = ((settings.baudrate, settings.parity),)
            return await self.async_step_detect()
        return self.async_show_form(
            step_id="encryption_key",
            data_schema=_KEYS_SCHEMA,
            errors=errors,
            description_placeholders=self._placeholders(),
        )

    def _read_keys(self, user_input: dict[str, Any], errors: dict[str, str]) -> bool:
        """Take the keys from a form; False with ``errors`` set if malformed."""
        encryption = _parse_key(user_input.get(CONF_ENCRYPTION_KEY))
        authentication_text = user_input.get(CONF_AUTHENTICATION_KEY) or ""
        authentication = _parse_key(authentication_text)
        if encryption is None:
            errors[CONF_ENCRYPTION_KEY] = "invalid_key"
            return False
        if authentication_text and authentication is None:
            errors[CONF_AUTHENTICATION_KEY] = "invalid_key"
            return False
        self._keys = Keys(encryption, authentication)
        self._key_text = {CONF_ENCRYPTION_KEY: encryption.hex()}
        if authentication is not None:
            self._key_text[CONF_AUTHENTICATION_KEY] = authentication.hex()
        return True

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Ask for new keys when the stored ones stop decrypting the meter's data."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check new keys against the frames the running entry received.

        The entry holds the port, so the keys are tried on the ciphered frames
        it kept for diagnostics instead of listening again.
        """
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None and self._read_keys(user_input, errors):
            frames = _recent_frames(entry)
            if not frames:
                errors["base"] = "no_frames"
            elif not _decrypts(frames, self._keys):
                errors["base"] = "wrong_key"
            else:
                data = dict(entry.data)
                data.pop(CONF_AUTHENTICATION_KEY, None)
                return self.async_update_reload_and_abort(
                    entry, data=data | self._key_text
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=_KEYS_SCHEMA,
            errors=errors,
            description_placeholders={
                "title": entry.title,
                "port": redact_url(entry.data[CONF_PORT]),
            },
        )

    async def async_step_found(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what was found; the meter id becomes the entry's unique id."""
        result = self._result
        assert result is not None and result.settings is not None
        telegram = result.identified
        assert telegram is not None and telegram.meter_id is not None
        found = result.describe()
        await self.async_set_unique_id(telegram.meter_id)
        data = {
            CONF_PORT: self._port,
            CONF_BAUDRATE: result.settings.baudrate,
            CONF_PARITY: result.settings.parity,
            **self._key_text,
        }
        if self.source == SOURCE_RECONFIGURE:
            self._abort_if_unique_id_mismatch(reason="wrong_meter")
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), data_updates=data
            )
        # A known meter found on another port has moved: follow it.
        self._abort_if_unique_id_configured(updates=data)
        if user_input is not None:
            if vendor := found.get("vendor"):
                data[CONF_VENDOR] = vendor
            if model := found.get("model"):
                data[CONF_MODEL] = model
            return self.async_create_entry(title=self._title(found), data=data)
        return self.async_show_form(
            step_id="found",
            description_placeholders=self._placeholders(),
        )

    def _title(self, found: dict[str, str]) -> str:
        parts = [manufacturer_name(found.get("vendor")), found.get("model")]
        title = " ".join(part for part in parts if part)
        return title or "HAN meter"

    def _placeholders(self) -> dict[str, str]:
        placeholders = {
            "port": redact_url(self._port),
            "vendor": "-",
            "model": "-",
            "meter_id": "-",
            "list_version": "-",
            "lists": "-",
            "format": "-",
            "line": "-",
        }
        if self._result is not None:
            found = self._result.describe()
            if vendor := found.get("vendor"):
                found["vendor"] = manufacturer_name(vendor) or vendor
            placeholders |= {key: value for key, value in found.items() if value}
        return placeholders


class HanPortOptionsFlow(OptionsFlowWithReload):
    """Meter options (scale factors, main fuse) and the tariff, from a menu."""

    def __init__(self) -> None:
        """Start with no tariff entered yet."""
        self._tariff: dict[str, Any] = {}

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the meter options and the tariff."""
        return self.async_show_menu(step_id="init", menu_options=["meter", "tariff"])

    def _save(
        self, updates: dict[str, Any], drop: tuple[str, ...] = ()
    ) -> ConfigFlowResult:
        options = {
            key: value
            for key, value in self.config_entry.options.items()
            if key not in drop
        }
        return self.async_create_entry(data=options | updates)

    async def async_step_meter(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the scale factors and the main fuse."""
        if user_input is not None:
            return self._save(user_input)
        scale = NumberSelector(
            NumberSelectorConfig(
                min=0.001, max=100000, step="any", mode=NumberSelectorMode.BOX
            )
        )
        schema = vol.Schema(
            {
                vol.Required(CONF_POWER_SCALE, default=1.0): scale,
                vol.Required(CONF_CURRENT_SCALE, default=1.0): scale,
                vol.Required(CONF_ENERGY_SCALE, default=1.0): scale,
                vol.Required(CONF_MAIN_FUSE, default=DEFAULT_MAIN_FUSE): NumberSelector(
                    NumberSelectorConfig(
                        min=6,
                        max=4000,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="A",
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="meter",
            data_schema=self.add_suggested_values_to_schema(
                schema, self.config_entry.options
            ),
        )

    async def async_step_tariff(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the grid company, tax zone, scheme and the supplier contract."""
        errors: dict[str, str] = {}
        if user_input is not None:
            company = user_input[CONF_GRID_COMPANY]
            if company == GRID_NONE:
                return self._save({CONF_GRID_COMPANY: GRID_NONE}, drop=TARIFF_OPTIONS)
            has_entity = bool(user_input.get(CONF_PRICE_ENTITY))
            has_fixed = user_input.get(CONF_FIXED_PRICE) is not None
            if not has_entity and not has_fixed:
                errors["base"] = "price_required"
            elif not has_entity and user_input[CONF_SCHEME] != Scheme.NONE:
                errors[CONF_PRICE_ENTITY] = "spot_required"
            else:
                self._tariff = user_input
                if company == GRID_CUSTOM:
                    return await self.async_step_custom()
                return self._save(user_input, drop=TARIFF_OPTIONS)
        companies = [
            SelectOptionDict(value=company.id, label=company.name)
            for company in list_grid_companies()
        ]
        price = PRICE_SELECTOR
        schema = vol.Schema(
            {
                vol.Required(CONF_GRID_COMPANY, default=GRID_NONE): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            SelectOptionDict(value=GRID_NONE, label=GRID_NONE),
                            *companies,
                            SelectOptionDict(value=GRID_CUSTOM, label=GRID_CUSTOM),
                        ],
                        mode=SelectSelectorMode.DROPDOWN,
                        translation_key="grid_company",
                    )
                ),
                vol.Required(CONF_TAX_ZONE, default=ZONE_AUTO): SelectSelector(
                    SelectSelectorConfig(
                        options=[ZONE_AUTO, *(zone.value for zone in TaxZone)],
                        mode=SelectSelectorMode.DROPDOWN,
                        translation_key="tax_zone",
                    )
                ),
                vol.Required(CONF_SCHEME, default=Scheme.STROMSTOTTE.value): (
                    SelectSelector(
                        SelectSelectorConfig(
                            options=[scheme.value for scheme in Scheme],
                            mode=SelectSelectorMode.LIST,
                            translation_key="scheme",
                        )
                    )
                ),
                vol.Optional(CONF_PRICE_ENTITY): EntitySelector(
                    EntitySelectorConfig(domain="sensor")
                ),
                vol.Optional(CONF_FIXED_PRICE): price,
                vol.Required(CONF_MARKUP, default=0.0): price,
                vol.Required(CONF_MONTHLY_FEE, default=0.0): NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=10000,
                        step="any",
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="NOK",
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="tariff",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or self.config_entry.options
            ),
            errors=errors,
        )

    async def async_step_custom(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter a grid tariff by hand: energy prices and capacity steps."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                parse_steps(user_input[CONF_CAPACITY_STEPS])
            except ValueError:
                errors[CONF_CAPACITY_STEPS] = "invalid_steps"
            else:
                return self._save(self._tariff | user_input, drop=TARIFF_OPTIONS)
        price = PRICE_SELECTOR
        schema = vol.Schema(
            {
                vol.Required(CONF_DAY_PRICE): price,
                vol.Optional(CONF_NIGHT_PRICE): price,
                vol.Required(CONF_CAPACITY_STEPS): TextSelector(),
            }
        )
        return self.async_show_form(
            step_id="custom",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or self.config_entry.options
            ),
            errors=errors,
        )
