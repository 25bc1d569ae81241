"""Unit tests of the running hour: power integrated between hourly registers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.han_port.live import MAX_HOLD, LiveHour

OSLO = ZoneInfo("Europe/Oslo")


def at(hour: int, minute: int = 0, second: float = 0) -> datetime:
    """Return 2026-01-15 at the given UTC time (Oslo hours are whole UTC hours)."""
    return datetime(2026, 1, 15, hour, minute, tzinfo=UTC) + timedelta(seconds=second)


def test_starts_empty() -> None:
    """Before any sample nothing is known."""
    live = LiveHour(OSLO)
    assert live.hour_start is None
    assert live.energy_wh == 0
    assert live.projected_wh(at(10)) is None
    assert live.last_hour_wh is None


def test_integrates_power_within_the_hour() -> None:
    """3600 W held for 60 s is 60 Wh; the first sample only starts the clock."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 15), 3600)
    assert live.hour_start == at(10)
    assert live.energy_wh == 0
    live.add_power(at(10, 16), 1800)
    assert live.energy_wh == pytest.approx(60)
    live.add_power(at(10, 16, 30), 0)
    assert live.energy_wh == pytest.approx(75)
    assert live.power_w == 0


def test_hour_boundary_splits_the_integral() -> None:
    """A sample after the boundary closes the hour with what fell before it."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 59, 40), 3600)
    live.add_power(at(11, 0, 30), 600)
    assert live.last_hour_start == at(10)
    assert live.last_hour_wh == pytest.approx(20)
    assert not live.last_hour_exact
    assert live.hour_start == at(11)
    assert live.energy_wh == pytest.approx(30)
    assert live.power_w == 600


def test_boundary_on_local_hour() -> None:
    """Hours follow the local zone: in Kolkata they start at half past UTC."""
    live = LiveHour(ZoneInfo("Asia/Kolkata"))
    live.add_power(at(10, 29, 30), 3600)
    assert live.hour_start == at(9, 30)
    live.add_power(at(10, 30, 30), 3600)
    assert live.last_hour_start == at(9, 30)
    assert live.last_hour_wh == pytest.approx(30)
    assert live.hour_start == at(10, 30)
    assert live.energy_wh == pytest.approx(30)


def test_advance_closes_the_hour_with_held_power() -> None:
    """Advancing the clock integrates the held power up to the new time."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 59, 30), 3600)
    live.advance(at(11, 0, 15))
    assert live.last_hour_wh == pytest.approx(30)
    assert live.energy_wh == pytest.approx(15)
    assert live.last_sample == at(11, 0, 15)
    assert live.power_w == 3600


def test_max_hold_caps_a_gap() -> None:
    """Power is held for at most MAX_HOLD; a longer gap adds only that much."""
    assert timedelta(seconds=60) == MAX_HOLD
    live = LiveHour(OSLO)
    live.add_power(at(10, 10), 3600)
    live.add_power(at(10, 20), 3600)  # ten minutes later
    assert live.energy_wh == pytest.approx(MAX_HOLD.total_seconds())  # 60 Wh


def test_gap_skipping_whole_hours() -> None:
    """A gap over several hours starts the hour of the new sample afresh.

    The hours in between are unknown; the old hour is not reported as the
    last hour because it did not end just now.
    """
    live = LiveHour(OSLO)
    live.add_power(at(10, 58), 3600)
    live.add_power(at(10, 59), 3600)
    assert live.energy_wh == pytest.approx(60)
    live.add_power(at(13, 0, 30), 1800)
    # Only MAX_HOLD before the new sample is integrated: 30 s in 12:xx, 30 s in 13:xx.
    assert live.hour_start == at(13)
    assert live.energy_wh == pytest.approx(30)
    assert live.last_hour_start == at(12)
    assert live.last_hour_wh == pytest.approx(30)


def test_gap_of_exactly_one_hour_reports_the_old_hour() -> None:
    """A gap into the next hour but one still closes the old hour in order."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 59), 3600)
    live.add_power(at(10, 59, 30), 3600)
    live.add_power(at(12, 0, 30), 0)
    assert live.hour_start == at(12)
    # The 10:00 hour closed first, then 11:00 with the 30 s before the sample.
    assert live.last_hour_start == at(11)
    assert live.last_hour_wh == pytest.approx(30)
    assert live.energy_wh == pytest.approx(30)


def test_stop_forgets_power() -> None:
    """After the data stopped, time passes without adding energy."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 30), 3600)
    live.add_power(at(10, 31), 3600)
    live.stop()
    assert live.power_w is None
    assert live.last_sample is None
    assert live.projected_wh(at(10, 40)) is None
    live.advance(at(10, 50))
    assert live.energy_wh == pytest.approx(60)
    # The hour still closes when the clock passes its end.
    live.advance(at(11, 5))
    assert live.last_hour_start == at(10)
    assert live.last_hour_wh == pytest.approx(60)
    assert live.hour_start == at(11)
    assert live.energy_wh == 0
    # A new sample starts integrating again from its own time.
    live.add_power(at(11, 6), 3600)
    live.add_power(at(11, 6, 30), 3600)
    assert live.energy_wh == pytest.approx(30)


def test_advance_without_samples_only_sets_the_hour() -> None:
    """Moving the clock before any sample just opens the hour."""
    live = LiveHour(OSLO)
    live.advance(at(10, 5))
    assert live.hour_start == at(10)
    assert live.energy_wh == 0
    live.advance(at(12, 5))
    assert live.hour_start == at(12)
    assert live.last_hour_wh is None  # a jump of two hours is not "the last hour"


def test_projected_energy() -> None:
    """Projection: energy so far plus present power to the end of the hour."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 15), 2000)
    assert live.projected_wh(at(10, 15)) == pytest.approx(2000 * 0.75)
    # With the power unchanged the projection stays, while energy accrues.
    assert live.projected_wh(at(10, 15, 30)) == pytest.approx(1500)
    assert live.energy_wh == pytest.approx(2000 * 30 / 3600)
    live.add_power(at(10, 16), 4000)
    assert live.energy_wh == pytest.approx(2000 * 60 / 3600)
    assert live.projected_wh(at(10, 16)) == pytest.approx(
        2000 * 60 / 3600 + 4000 * 44 / 60
    )


def test_projected_energy_rolls_into_the_next_hour() -> None:
    """Projecting past the hour's end closes it and projects the new one."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 59, 30), 3600)
    projected = live.projected_wh(at(11, 0, 30))
    assert live.hour_start == at(11)
    assert live.last_hour_wh == pytest.approx(30)
    # 30 Wh in the new hour so far, then 59.5 minutes at 3600 W.
    assert projected == pytest.approx(30 + 3600 * (59.5 / 60))


def test_register_hour_replaces_the_estimate() -> None:
    """The register difference for the finished hour is exact and wins."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 59, 30), 3600)
    live.add_power(at(11, 0, 5), 3600)
    assert live.last_hour_wh == pytest.approx(30)
    assert not live.last_hour_exact
    live.register_hour(at(10), 1234.0)
    assert live.last_hour_start == at(10)
    assert live.last_hour_wh == 1234.0
    assert live.last_hour_exact
    # More samples within the new hour do not touch the last hour.
    live.add_power(at(11, 0, 10), 3600)
    assert live.last_hour_wh == 1234.0
    assert live.last_hour_exact


def test_register_before_the_live_hour_closes_is_kept() -> None:
    """A register for the hour that arrives before the live hour closed wins.

    P1 meters carry the registers in every telegram: the first telegram after
    the boundary delivers the register of the finished hour and the power
    sample that closes the live hour at once, in that order. A meter clock a
    few seconds ahead of Home Assistant does the same for List 3.
    """
    live = LiveHour(OSLO)
    live.add_power(at(10, 59, 50), 3600)
    live.register_hour(at(10), 1234.0)
    live.add_power(at(11, 0, 1), 3600)
    assert live.hour_start == at(11)
    assert live.last_hour_start == at(10)
    assert live.last_hour_wh == 1234.0
    assert live.last_hour_exact
    assert live.energy_wh == pytest.approx(1)


def test_next_hour_estimate_replaces_older_register() -> None:
    """The next hour's estimate replaces the register of the hour before it."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 59, 50), 3600)
    live.register_hour(at(9), 900.0)
    live.add_power(at(11, 0, 10), 3600)
    assert live.last_hour_start == at(10)
    assert live.last_hour_wh == pytest.approx(10)
    assert not live.last_hour_exact


def test_close_hour_ignores_a_boundary_not_ahead() -> None:
    """Closing at or before the running hour's start changes nothing."""
    live = LiveHour(OSLO)
    live.add_power(at(10, 30), 3600)
    live.add_power(at(10, 30, 30), 3600)
    live._close_hour(at(10))
    assert live.hour_start == at(10)
    assert live.energy_wh == pytest.approx(30)
    assert live.last_hour_start is None
