"""Soak the integration with a simulated calendar month at accelerated time.

The month runs through the soak engine of the test suite (``tests/soak.py``)
inside the Home Assistant test harness: a simulated meter on a pseudo-terminal,
the real ``han_port`` entry, the recorder on an SQLite file, three Home
Assistant restarts, five silent hours, a repeated List 3 and the month's clock
change. At the end the hourly statistics are compared with the simulator's
registers, the capacity peaks with the true ones and the cost statistic with
the tariff command line; the summary table is printed and written to
``.soak/<month>/summary.txt`` with the CSV files the command line priced.

The shortened soak (two days) runs with every ``scripts/test``.
"""

from __future__ import annotations

import argparse
from datetime import datetime
import os
from pathlib import Path
import sys

import pytest

ROOT = Path(__file__).resolve().parent.parent


def month(text: str) -> str:
    """Accept a month written YYYY-MM."""
    datetime.strptime(text, "%Y-%m")
    return text


def main() -> int:
    """Run the month's soak; the exit status is pytest's."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--month",
        type=month,
        default="2026-10",
        help="YYYY-MM (default 2026-10, with the autumn clock change; 2026-03 has the spring one)",
    )
    parser.add_argument(
        "--list1-every",
        type=float,
        default=300,
        help="send one List 1 per this many seconds (default 300)",
    )
    parser.add_argument(
        "--list2-every",
        type=float,
        default=20,
        help="send one List 2 per this many seconds, under 30 (default 20)",
    )
    parser.add_argument(
        "--out", type=Path, help="output directory (default .soak/MONTH)"
    )
    args = parser.parse_args()
    if not 0 < args.list2_every < 30:
        parser.error("--list2-every must be under 30 s, or the watchdog fires")
    out = args.out or ROOT / ".soak" / args.month
    os.environ["HAN_PORT_SOAK_MONTH"] = args.month
    os.environ["HAN_PORT_SOAK_LIST1"] = str(args.list1_every)
    os.environ["HAN_PORT_SOAK_LIST2"] = str(args.list2_every)
    os.environ["HAN_PORT_SOAK_OUT"] = str(out)
    os.chdir(ROOT)
    status = pytest.main(
        [
            "-p",
            "no:cacheprovider",
            "-q",
            "-s",
            "--log-level=WARNING",
            "tests/test_soak.py::test_soak_month",
        ]
    )
    summary = out / "summary.txt"
    if summary.exists():
        print(f"\nsummary written to {summary.relative_to(ROOT)}")
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
