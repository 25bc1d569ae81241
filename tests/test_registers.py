"""Unit tests of the energy register helpers: meter clock, guard, hourly split."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.han_port.han.model import Quantity
from custom_components.han_port.registers import (
    REBASELINE_AFTER,
    RegisterGuard,
    RegisterReading,
    Rejection,
    energy_registers,
    hour_boundary,
    resolve_meter_clock,
    spread,
)

OSLO = ZoneInfo("Europe/Oslo")
IMPORT = Quantity.ACTIVE_ENERGY_IMPORT
EXPORT = Quantity.ACTIVE_ENERGY_EXPORT
REACTIVE = Quantity.REACTIVE_ENERGY_IMPORT
# 2026-01-15 12:00 UTC is 13:00 in Oslo (CET, UTC+1).
WINTER = datetime(2026, 1, 15, 12, tzinfo=UTC)


def utc(*args: int) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def reading(
    clock: datetime, values: dict[Quantity, float], stated: str | None = None
) -> RegisterReading:
    """Return a reading stated the way a Kaifa meter writes its clock."""
    return RegisterReading(
        clock=clock,
        stated=stated or clock.astimezone(OSLO).replace(tzinfo=None).isoformat(),
        values=values,
    )


# resolve_meter_clock -------------------------------------------------------


def test_naive_clock_is_local_wall_time() -> None:
    """A Kaifa clock without UTC deviation is Norwegian wall time."""
    stated = datetime(2026, 1, 15, 13, 0, 10)
    resolved = resolve_meter_clock(stated, utc(2026, 1, 15, 12, 0, 11), OSLO)
    assert resolved == utc(2026, 1, 15, 12, 0, 10)
    assert resolved.tzinfo is UTC


def test_naive_clock_in_summer() -> None:
    """The same wall clock in summer is two hours ahead of UTC."""
    stated = datetime(2026, 7, 1, 14, 0, 10)
    assert resolve_meter_clock(stated, utc(2026, 7, 1, 12, 0, 12), OSLO) == utc(
        2026, 7, 1, 12, 0, 10
    )


@pytest.mark.parametrize(
    ("stated_hour", "received", "expected"),
    [
        # Winter: 13:00 "+00:00" means 13:00 in Oslo, 12:00 UTC.
        (13, utc(2026, 1, 15, 12, 0, 10), utc(2026, 1, 15, 12)),
        # Received late (meter or network slow): still the local reading.
        (13, utc(2026, 1, 15, 12, 25), utc(2026, 1, 15, 12)),
    ],
)
def test_aidon_deviation_zero_is_local(
    stated_hour: int, received: datetime, expected: datetime
) -> None:
    """Aidon writes deviation 0 with a local clock; it is taken as local time."""
    stated = datetime(2026, 1, 15, stated_hour, tzinfo=UTC)
    assert resolve_meter_clock(stated, received, OSLO) == expected


def test_aidon_deviation_zero_in_summer() -> None:
    """In summer the Aidon clock is two hours ahead of the UTC it claims."""
    stated = datetime(2026, 7, 1, 14, tzinfo=UTC)
    assert resolve_meter_clock(stated, utc(2026, 7, 1, 12, 0, 10), OSLO) == utc(
        2026, 7, 1, 12
    )


def test_strict_aware_clock_is_taken_as_stated() -> None:
    """A clock with a real UTC deviation wins when it matches the arrival time.

    13:00+02:00 is 11:00 UTC; read as Oslo wall time in winter it would be
    12:00 UTC, an hour away from when it arrived.
    """
    stated = datetime(2026, 1, 15, 13, tzinfo=timezone(timedelta(hours=2)))
    assert resolve_meter_clock(stated, utc(2026, 1, 15, 11, 0, 10), OSLO) == utc(
        2026, 1, 15, 11
    )


def test_strict_clock_agrees_with_local_reading() -> None:
    """A DLMS-strict Norwegian clock (deviation +1 in winter) resolves the same."""
    stated = datetime(2026, 1, 15, 13, tzinfo=timezone(timedelta(hours=1)))
    assert resolve_meter_clock(stated, utc(2026, 1, 15, 12, 0, 10), OSLO) == utc(
        2026, 1, 15, 12
    )


def test_meter_set_wrong_keeps_its_hours() -> None:
    """A meter five minutes slow is not moved to the arrival time."""
    stated = datetime(2026, 1, 15, 13, 0)
    received = utc(2026, 1, 15, 12, 5, 10)
    assert resolve_meter_clock(stated, received, OSLO) == utc(2026, 1, 15, 12)


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # 02:30 the first time (CEST, UTC+2)...
        (utc(2026, 10, 25, 0, 30, 5), utc(2026, 10, 25, 0, 30)),
        # ...and the second time, an hour later (CET, UTC+1).
        (utc(2026, 10, 25, 1, 30, 5), utc(2026, 10, 25, 1, 30)),
    ],
)
def test_october_fold(received: datetime, expected: datetime) -> None:
    """The repeated hour in October resolves to the pass the telegram arrived in."""
    stated = datetime(2026, 10, 25, 2, 30)
    assert resolve_meter_clock(stated, received, OSLO) == expected


def test_october_fold_aidon() -> None:
    """An Aidon clock (deviation 0) in the second 02:xx is the later instant."""
    stated = datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    assert resolve_meter_clock(stated, utc(2026, 10, 25, 1, 0, 10), OSLO) == utc(
        2026, 10, 25, 1
    )


def test_march_gap() -> None:
    """Around the March jump the wall clock maps to the instant nearest arrival.

    On 2026-03-29 Oslo jumps from 02:00 CET to 03:00 CEST at 01:00 UTC; the
    List 3 of that hour says 03:00, and a meter that still writes 02:00 (a
    wall time that does not exist) means the same instant.
    """
    received = utc(2026, 3, 29, 1, 0, 10)
    assert resolve_meter_clock(datetime(2026, 3, 29, 3), received, OSLO) == utc(
        2026, 3, 29, 1
    )
    assert resolve_meter_clock(datetime(2026, 3, 29, 2), received, OSLO) == utc(
        2026, 3, 29, 1
    )
    aidon = datetime(2026, 3, 29, 3, tzinfo=UTC)
    assert resolve_meter_clock(aidon, received, OSLO) == utc(2026, 3, 29, 1)
    # The hour before the jump: 01:00 CET.
    before = resolve_meter_clock(
        datetime(2026, 3, 29, 1), utc(2026, 3, 29, 0, 0, 10), OSLO
    )
    assert before == utc(2026, 3, 29, 0)


# hour_boundary -------------------------------------------------------------


def test_hour_boundary_local_hour() -> None:
    """The boundary is the local full hour, returned in UTC."""
    assert hour_boundary(utc(2026, 1, 15, 12, 59, 59), OSLO) == utc(2026, 1, 15, 12)
    assert hour_boundary(utc(2026, 1, 15, 12), OSLO) == utc(2026, 1, 15, 12)
    assert hour_boundary(utc(2026, 1, 15, 12), OSLO).tzinfo is UTC


def test_hour_boundary_half_hour_zone() -> None:
    """In a zone half an hour off UTC, local hours start at half past UTC hours."""
    kolkata = ZoneInfo("Asia/Kolkata")
    assert hour_boundary(utc(2026, 1, 15, 12, 10), kolkata) == utc(2026, 1, 15, 11, 30)


def test_hour_boundary_october_fold() -> None:
    """Both 02:xx hours in October have their own boundary."""
    assert hour_boundary(utc(2026, 10, 25, 0, 45), OSLO) == utc(2026, 10, 25, 0)
    assert hour_boundary(utc(2026, 10, 25, 1, 45), OSLO) == utc(2026, 10, 25, 1)


def test_hour_boundary_march_gap() -> None:
    """The first hour after the March jump starts at 03:00 CEST."""
    assert hour_boundary(utc(2026, 3, 29, 1, 20), OSLO) == utc(2026, 3, 29, 1)
    assert hour_boundary(utc(2026, 3, 29, 0, 59), OSLO) == utc(2026, 3, 29, 0)


# RegisterGuard -------------------------------------------------------------


def test_guard_accepts_first_reading() -> None:
    """With nothing to compare against, a non-zero reading becomes the reference."""
    guard = RegisterGuard(main_fuse=25)
    first = reading(WINTER, {IMPORT: 1_000_000, EXPORT: 0})
    verdict = guard.check(first)
    assert verdict.accepted
    assert verdict.reason is None
    assert not verdict.rebaselined
    assert guard.last is first
    assert guard.accepted == 1
    assert sum(guard.rejected.values()) == 0


def test_guard_rejects_zero_first_reading() -> None:
    """An import register of 0 is never a real reading, not even the first."""
    guard = RegisterGuard(main_fuse=25)
    verdict = guard.check(reading(WINTER, {IMPORT: 0}))
    assert not verdict.accepted
    assert verdict.reason is Rejection.ZERO
    assert guard.last is None
    assert guard.rejected[Rejection.ZERO] == 1


def test_guard_accepts_plausible_increase() -> None:
    """A normal hour later is accepted and replaces the reference."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 1_000_000, EXPORT: 500}))
    later = reading(WINTER + timedelta(hours=1), {IMPORT: 1_002_300, EXPORT: 500})
    assert guard.check(later).accepted
    assert guard.last is later
    assert guard.accepted == 2


def test_guard_rejects_decrease() -> None:
    """A register lower than before is rejected and the reference kept."""
    guard = RegisterGuard(main_fuse=25)
    first = reading(WINTER, {IMPORT: 1_000_000})
    guard.check(first)
    verdict = guard.check(reading(WINTER + timedelta(hours=1), {IMPORT: 999_990}))
    assert not verdict.accepted
    assert verdict.reason is Rejection.DECREASED
    assert "999990" in verdict.detail
    assert "1e+06" in verdict.detail
    assert guard.last is first
    assert guard.rejected[Rejection.DECREASED] == 1


def test_guard_rejects_zero_register() -> None:
    """A register that reads 0 after a positive value is a glitch."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 1_000_000, EXPORT: 4_000}))
    verdict = guard.check(
        reading(WINTER + timedelta(hours=1), {IMPORT: 1_000_500, EXPORT: 0})
    )
    assert verdict.reason is Rejection.ZERO
    assert verdict.detail == "active_energy_export is 0"


def test_guard_keeps_zero_register_that_was_zero() -> None:
    """An export register that has always been 0 is fine."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 1_000_000, EXPORT: 0}))
    assert guard.check(
        reading(WINTER + timedelta(hours=1), {IMPORT: 1_000_500, EXPORT: 0})
    ).accepted


def test_guard_rejects_repeated_clock() -> None:
    """The same stated clock again (a resent hour) is rejected."""
    guard = RegisterGuard(main_fuse=25)
    first = reading(WINTER, {IMPORT: 1_000_000})
    guard.check(first)
    verdict = guard.check(first)
    assert verdict.reason is Rejection.REPEATED
    assert first.stated in verdict.detail
    assert guard.rejected[Rejection.REPEATED] == 1


def test_guard_rejects_earlier_clock() -> None:
    """A clock that goes back is a repeat even when written differently."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 1_000_000}))
    verdict = guard.check(
        reading(WINTER - timedelta(hours=1), {IMPORT: 1_000_100}, stated="other")
    )
    assert verdict.reason is Rejection.REPEATED


def test_guard_rejects_implausible_rise() -> None:
    """More than the main fuse lets through in the time passed is rejected.

    25 A x 240 V x 3 phases for one hour is 18 000 Wh, plus 1000 Wh for rounding.
    """
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 1_000_000}))
    hour = WINTER + timedelta(hours=1)
    verdict = guard.check(reading(hour, {IMPORT: 1_019_001}))
    assert verdict.reason is Rejection.IMPLAUSIBLE
    assert "25 A main fuse" in verdict.detail
    assert guard.rejected[Rejection.IMPLAUSIBLE] == 1
    assert guard.check(reading(hour, {IMPORT: 1_019_000})).accepted


def test_guard_rejects_clock_in_the_future() -> None:
    """A meter clock more than three hours after the arrival is not believed."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 1_000_000}))
    ahead = WINTER + timedelta(days=2)
    verdict = guard.check(
        reading(ahead, {IMPORT: 1_000_500}), WINTER + timedelta(hours=1, seconds=10)
    )
    assert verdict.reason is Rejection.FUTURE
    assert "47.0 h ahead" in verdict.detail
    assert guard.last is not None
    assert guard.last.clock == WINTER
    # Within three hours the meter's clock decides, as for a slow Home Assistant.
    hour = WINTER + timedelta(hours=1)
    assert guard.check(
        reading(hour, {IMPORT: 1_000_500}), hour - timedelta(hours=3)
    ).accepted


def test_guard_limit_grows_with_time() -> None:
    """Three hours allow three times the energy of one."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 1_000_000}))
    assert guard.check(
        reading(WINTER + timedelta(hours=3), {IMPORT: 1_050_000})
    ).accepted


def test_guard_ignores_registers_it_has_not_seen() -> None:
    """A register missing from the reference cannot be compared and passes."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 1_000_000}))
    assert guard.check(
        reading(WINTER + timedelta(hours=1), {IMPORT: 1_000_100, REACTIVE: 5})
    ).accepted


def test_guard_rebaselines_after_consistent_lower_readings() -> None:
    """A replaced meter: three lower readings consistent among themselves win."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 50_000_000}))
    verdicts = [
        guard.check(reading(WINTER + timedelta(hours=hour), {IMPORT: 1000.0 * hour}))
        for hour in range(1, REBASELINE_AFTER + 1)
    ]
    assert [v.accepted for v in verdicts] == [False, False, True]
    assert verdicts[0].reason is Rejection.DECREASED
    assert verdicts[-1].rebaselined
    assert "from 5e+07 to 3000" in verdicts[-1].detail
    assert guard.last is not None
    assert guard.last.values[IMPORT] == 3000
    assert guard.rejected[Rejection.DECREASED] == REBASELINE_AFTER
    assert guard.accepted == 1
    # The new reference is used from now on.
    assert guard.check(reading(WINTER + timedelta(hours=4), {IMPORT: 3500})).accepted


def test_guard_inconsistent_lower_run_starts_again() -> None:
    """Lower readings that go down among themselves do not rebaseline."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 50_000_000}))
    values = [2000, 1000, 1500]  # the second breaks the run; it restarts there
    for hour, value in enumerate(values, start=1):
        verdict = guard.check(reading(WINTER + timedelta(hours=hour), {IMPORT: value}))
        assert not verdict.accepted
    verdict = guard.check(reading(WINTER + timedelta(hours=4), {IMPORT: 1800}))
    assert verdict.accepted
    assert verdict.rebaselined
    assert guard.last is not None
    assert guard.last.values[IMPORT] == 1800


def test_guard_other_rejection_breaks_lower_run() -> None:
    """A zero reading in between resets the count of lower readings."""
    guard = RegisterGuard(main_fuse=25)
    guard.check(reading(WINTER, {IMPORT: 50_000_000}))
    hours = iter(range(1, 10))

    def check(value: float) -> bool:
        return guard.check(
            reading(WINTER + timedelta(hours=next(hours)), {IMPORT: value})
        ).accepted

    assert not check(1000)
    assert not check(1100)
    assert not check(0)  # zero: the run of lower readings is forgotten
    assert not check(1200)
    assert not check(1300)
    assert check(1400)
    assert guard.rejected == {
        Rejection.DECREASED: 5,
        Rejection.ZERO: 1,
        Rejection.REPEATED: 0,
        Rejection.IMPLAUSIBLE: 0,
        Rejection.FUTURE: 0,
    }


# RegisterReading -----------------------------------------------------------


def test_reading_round_trip() -> None:
    """A reading survives storage as JSON unchanged."""
    original = RegisterReading(
        clock=utc(2026, 1, 15, 12),
        stated="2026-01-15T13:00:00+00:00",
        values={IMPORT: 1_234_560.0, EXPORT: 10.0, REACTIVE: 99.5},
    )
    stored = json.loads(json.dumps(original.as_dict()))
    assert stored == {
        "clock": "2026-01-15T12:00:00+00:00",
        "stated": "2026-01-15T13:00:00+00:00",
        "values": {
            "active_energy_import": 1_234_560.0,
            "active_energy_export": 10.0,
            "reactive_energy_import": 99.5,
        },
    }
    restored = RegisterReading.from_dict(stored)
    assert restored == original
    assert all(type(key) is Quantity for key in restored.values)
    assert restored.clock.tzinfo is not None


def test_reading_from_dict_coerces_numbers() -> None:
    """Integers saved by an older version come back as floats."""
    restored = RegisterReading.from_dict(
        {
            "clock": "2026-01-15T12:00:00+00:00",
            "stated": "x",
            "values": {"active_energy_import": 5},
        }
    )
    assert restored.values == {IMPORT: 5.0}
    assert isinstance(restored.values[IMPORT], float)


# energy_registers ----------------------------------------------------------


def test_energy_registers_picks_numeric_registers() -> None:
    """Only cumulative energy quantities with numbers are registers."""
    values = {
        Quantity.ACTIVE_POWER_IMPORT: 1500,
        IMPORT: 1000,
        REACTIVE: 20.5,
        Quantity.METER_ID: "123",
        EXPORT: "garbage",
    }
    assert energy_registers(values) == {IMPORT: 1000.0, REACTIVE: 20.5}


def test_energy_registers_sums_tariffs() -> None:
    """P1 meters send only tariff registers; their sum becomes the total."""
    values = {
        Quantity.ACTIVE_ENERGY_IMPORT_T1: 100.0,
        Quantity.ACTIVE_ENERGY_IMPORT_T2: 250.0,
        Quantity.ACTIVE_ENERGY_EXPORT_T2: 7.0,
    }
    registers = energy_registers(values)
    assert registers[IMPORT] == 350.0
    assert registers[EXPORT] == 7.0


def test_energy_registers_keeps_stated_total() -> None:
    """A total the meter sends itself is not replaced by the tariff sum."""
    values = {IMPORT: 1000.0, Quantity.ACTIVE_ENERGY_IMPORT_T1: 100.0}
    assert energy_registers(values)[IMPORT] == 1000.0


# spread --------------------------------------------------------------------


def test_spread_whole_units_add_up() -> None:
    """10 Wh over three hours: whole Wh per hour, exactly 10 in total."""
    start = utc(2026, 1, 15, 10)
    rows = spread(start, start + timedelta(hours=3), 1000.0, 1010.0)
    assert rows == [
        (utc(2026, 1, 15, 10), 3.0),
        (utc(2026, 1, 15, 11), 3.0),
        (utc(2026, 1, 15, 12), 4.0),
    ]
    assert sum(energy for _start, energy in rows) == 10.0


def test_spread_large_whole_difference_is_exact() -> None:
    """A week of hours still adds up to the register difference to the Wh."""
    start = utc(2026, 1, 1)
    rows = spread(start, start + timedelta(hours=167), 12_345_678.0, 12_401_111.0)
    assert len(rows) == 167
    assert all(energy == int(energy) for _start, energy in rows)
    assert sum(energy for _start, energy in rows) == 55_433.0
    assert max(e for _s, e in rows) - min(e for _s, e in rows) <= 1


def test_spread_fractional_difference() -> None:
    """A fractional difference is split evenly."""
    start = utc(2026, 1, 15, 10)
    rows = spread(start, start + timedelta(hours=2), 100.0, 101.5)
    assert rows == [(start, 0.75), (start + timedelta(hours=1), 0.75)]


def test_spread_single_hour() -> None:
    """One hour gets the whole difference."""
    start = utc(2026, 1, 15, 10)
    assert spread(start, start + timedelta(hours=1), 5.0, 9.0) == [(start, 4.0)]


@pytest.mark.parametrize("hours", [0, -1])
def test_spread_no_hours(hours: int) -> None:
    """No whole hour between the boundaries gives no rows."""
    start = utc(2026, 1, 15, 10)
    assert spread(start, start + timedelta(hours=hours), 5.0, 9.0) == []
    assert spread(start, start + timedelta(minutes=20), 5.0, 9.0) == []
