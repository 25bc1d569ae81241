"""The command line, run as an invoice checker runs it."""

from __future__ import annotations

from datetime import timedelta
import io
import json
from pathlib import Path
import subprocess
import sys

import pytest

from custom_components.han_port.tariff import Month, Reading
from custom_components.han_port.tariff.__main__ import main
from custom_components.han_port.tariff.resources import data_text

from .helpers import month_hours, oslo, write_consumption, write_spot

ROOT = Path(__file__).resolve().parents[2]
JAN = Month(2026, 1)


def run(argv: list[str]) -> tuple[int, str, str]:
    """Run ``main`` in-process and capture both streams."""
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """Two January days of hourly consumption and hourly spot prices."""
    hours = month_hours(JAN)[:48]
    consumption = write_consumption(
        tmp_path / "c.csv", [Reading.of(hour, "1.5") for hour in hours]
    )
    spot = write_spot(tmp_path / "s.csv", [(hour, "1.27") for hour in hours])
    return consumption, spot


def bill_args(consumption: Path, spot: Path, *extra: str) -> list[str]:
    """Arguments for a BKK January 2026 bill."""
    return [
        "bill",
        "--grid-company",
        "bkk",
        "--month",
        "2026-01",
        "--consumption",
        str(consumption),
        "--spot",
        str(spot),
        *extra,
    ]


def test_bill_defaults_to_stromstotte(files: tuple[Path, Path]) -> None:
    """Households get strømstøtte unless they chose Norgespris."""
    code, out, _ = run(
        bill_args(*files, "--markup", "0.02", "--monthly-fee", "39.2", "--hourly")
    )
    assert code == 0
    bill = json.loads(out)
    assert bill["scheme"] == "stromstotte"
    assert bill["stromstotte"] == -0.5625 * 72  # 0.9 × (1.27 − 0.77) × 1.25 on 72 kWh
    assert bill["supply_fee"] == 49.0
    assert bill["supply_energy"] == round(72 * (1.27 + 0.02) * 1.25, 2)
    assert len(bill["hours"]) == 48
    assert bill["hours"][0]["start"] == "2026-01-01T00:00:00+01:00"
    assert bill["hours"][0]["spot"] == 1.27


def test_bill_norgespris_north_fixed(files: tuple[Path, Path]) -> None:
    """Zone, scheme and a fixed-price contract from the command line."""
    code, out, _ = run(
        bill_args(
            *files,
            "--zone",
            "nord_norge",
            "--scheme",
            "norgespris",
            "--fixed-price",
            "0.9",
        )
    )
    assert code == 0
    bill = json.loads(out)
    assert bill["zone"] == "nord_norge"
    assert bill["norgespris"] == round(-72 * (1.27 - 0.40), 2)
    assert bill["supply"] == round(72 * 0.9, 2)


def test_quarter_hour_consumption(tmp_path: Path) -> None:
    """15-minute rows are recognised from their spacing and metered at 15 minutes on request."""
    start = oslo(2026, 1, 5, 18)
    quarters = [
        Reading.of(start + timedelta(minutes=15 * index), kwh, 15)
        for index, kwh in enumerate(["1", "2", "1", "1"])
    ]
    consumption = write_consumption(tmp_path / "q.csv", quarters)
    spot = write_spot(
        tmp_path / "s.csv",
        [(start + timedelta(minutes=15 * index), "0.5") for index in range(4)],
    )
    code, out, _ = run(
        bill_args(consumption, spot, "--scheme", "none", "--metering-minutes", "15")
    )
    assert code == 0
    assert json.loads(out)["grid_capacity"]["capacity_kw"] == 8


def test_custom_tariff_file(tmp_path: Path, files: tuple[Path, Path]) -> None:
    """``--grid-company custom --tariff-file`` bills a user's own company file."""
    raw = json.loads(data_text("grid", "lede.json"))
    raw["id"] = "custom"
    for tariff in raw["tariffs"]:
        tariff["id"] = tariff["id"].replace("lede", "custom")
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    argv = bill_args(*files)
    argv[2] = "custom"
    code, out, _ = run([*argv, "--tariff-file", str(path)])
    assert code == 0
    assert json.loads(out)["grid_company"] == "custom"
    argv[2] = "other"
    code, _, err = run([*argv, "--tariff-file", str(path)])
    assert code == 1
    assert "holds 'custom'" in err


def test_errors_are_json(tmp_path: Path, files: tuple[Path, Path]) -> None:
    """Unknown company, expired rates, bad files: one JSON error line and status 1."""
    argv = bill_args(*files)
    argv[2] = "nope"
    code, _, err = run(argv)
    assert code == 1
    assert json.loads(err)["error"].startswith("UnknownGridCompanyError")
    argv = bill_args(*files)
    argv[4] = "2027-01"
    code, _, err = run(argv)
    assert code == 1
    assert "after" in json.loads(err)["error"]
    late = write_consumption(tmp_path / "late.csv", [Reading.of(oslo(2027, 1, 1), 1)])
    code, _, err = run(bill_args(late, files[1]))
    assert code == 1
    assert "after 2026-01" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("time,kwh\n", encoding="utf-8")
    code, _, err = run(bill_args(bad, files[1]))
    assert code == 1
    assert "start,kwh" in err
    bad.write_text("start,kwh\nyesterday,1\n", encoding="utf-8")
    assert run(bill_args(bad, files[1]))[0] == 1
    bad.write_text("start,kwh\n2026-01-01T00:00:00+01:00,lots\n", encoding="utf-8")
    assert "consumption at" in run(bill_args(bad, files[1]))[2]
    bad.write_text(
        "start,nok_per_kwh\n2026-01-01T00:00:00+01:00,free\n", encoding="utf-8"
    )
    assert "spot price at" in run(bill_args(files[0], bad))[2]
    code, _, err = run(bill_args(files[0], tmp_path / "missing.csv"))
    assert code == 1
    assert "FileNotFoundError" in err


def test_expired_rate_is_reported(tmp_path: Path) -> None:
    """A month past a tariff's end fails instead of extrapolating (Føie from Nov 2026)."""
    hour = oslo(2026, 11, 2, 12)
    consumption = write_consumption(tmp_path / "c.csv", [Reading.of(hour, 1)])
    spot = write_spot(tmp_path / "s.csv", [(hour, "1")])
    code, _, err = run(
        [
            "bill",
            "--grid-company",
            "foie",
            "--month",
            "2026-11",
            "--consumption",
            str(consumption),
            "--spot",
            str(spot),
        ]
    )
    assert code == 1
    assert json.loads(err)["error"].startswith(
        "RateExpiredError: foie grid tariff: no rate after 2026-11-01"
    )


def test_list_grid_companies() -> None:
    """The listing shows every shipped tariff with its validity and doubts."""
    code, out, _ = run(["list-grid-companies"])
    assert code == 0
    listing = {company["id"]: company for company in json.loads(out)}
    assert len(listing) == 11
    bkk = listing["bkk"]["tariffs"]
    assert [(t["valid_from"], t["valid_to"]) for t in bkk] == [
        ("2024-04-01", "2025-09-01"),
        ("2025-09-01", "2026-01-01"),
        ("2026-01-01", None),
    ]
    assert (
        listing["fjellnett"]["tariffs"][0]["capacity_method"]
        == "weighted_weekly_rolling"
    )
    assert listing["foie"]["tariffs"][-1]["valid_to"] == "2026-11-01"


def test_module_runs_as_script() -> None:
    """``python -m custom_components.han_port.tariff`` works from the repository root."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "custom_components.han_port.tariff",
            "list-grid-companies",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["id"] == "bkk"
