from datetime import UTC, datetime, timedelta
import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from custom_components.han_port.const import DOMAIN
from custom_components.han_port.han.simulator import MeterSimulator
from tests.meter import PtyMeter, wait_for

async def test_smoke(hass: HomeAssistant) -> None:
    await hass.config.async_set_time_zone("Europe/Oslo")
    now = datetime.now(UTC).replace(microsecond=0)
    sim = MeterSimulator("aidon", start=now - timedelta(seconds=30), seed=3)
    meter = PtyMeter(sim)
    entry = MockConfigEntry(domain=DOMAIN, title="Aidon 6525", unique_id=sim.meter_id,
        data={"port": meter.port, "baudrate": 2400, "parity": "E", "vendor": "aidon"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    frames = meter.frames(now)
    for f in frames: meter.send(f)
    await wait_for(lambda: entry.runtime_data.decoder.stats.telegrams >= len(frames))
    await hass.async_block_till_done()
    states = {s.entity_id: s.state for s in hass.states.async_all("sensor")}
    print(states)
    assert entry.runtime_data.available
    await hass.config_entries.async_unload(entry.entry_id)
    meter.close()
