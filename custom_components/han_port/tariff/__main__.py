"""Command line for invoice checks: ``python -m custom_components.han_port.tariff``.

``bill`` prints a month's bill as JSON, every component in NOK incl VAT where
it applies; ``list-grid-companies`` prints the shipped tariffs with their
validity. Errors are printed as JSON on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
from pathlib import Path
import sys
from typing import Any, TextIO

from .bill import compute_bill
from .clock import Month, utc
from .csvio import read_consumption_csv, read_spot_csv
from .errors import TariffError
from .exact import exact
from .grid import (
    CUSTOM_ID,
    GridCompany,
    list_grid_companies,
    load_grid_company,
    load_grid_company_file,
)
from .installation import Installation, Reading
from .report import bill_to_json
from .schemes import Dwelling, Scheme
from .spot import Supply
from .taxes import TaxZone


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser (also used by the tests)."""
    parser = argparse.ArgumentParser(prog="python -m custom_components.han_port.tariff")
    commands = parser.add_subparsers(dest="command", required=True)
    bill = commands.add_parser("bill", help="compute a month's bill")
    bill.add_argument(
        "--grid-company",
        required=True,
        help=f"shipped id, or {CUSTOM_ID!r} with --tariff-file",
    )
    bill.add_argument(
        "--tariff-file", type=Path, help="company JSON in the shipped schema"
    )
    bill.add_argument("--month", required=True, type=Month.parse, help="YYYY-MM")
    bill.add_argument("--consumption", required=True, type=Path, help="CSV start,kwh")
    bill.add_argument(
        "--spot", required=True, type=Path, help="CSV start,nok_per_kwh (ex VAT)"
    )
    bill.add_argument(
        "--zone",
        choices=[zone.value for zone in TaxZone],
        help="default: the company's",
    )
    bill.add_argument(
        "--scheme",
        choices=[scheme.value for scheme in Scheme],
        default=Scheme.STROMSTOTTE.value,
    )
    bill.add_argument(
        "--dwelling",
        choices=[kind.value for kind in Dwelling],
        default=Dwelling.HOUSEHOLD.value,
    )
    bill.add_argument("--markup", default="0", help="supplier markup, NOK/kWh ex VAT")
    bill.add_argument(
        "--monthly-fee", default="0", help="supplier monthly fee, NOK ex VAT"
    )
    bill.add_argument(
        "--fixed-price", help="fixed supply price, NOK/kWh ex VAT (instead of spot)"
    )
    bill.add_argument("--fuse", help="fuse row id, for fuse-based capacity tariffs")
    bill.add_argument(
        "--metering-minutes",
        type=int,
        choices=[15, 60],
        help="capacity metering interval",
    )
    bill.add_argument(
        "--hourly", action="store_true", help="include the hour-by-hour breakdown"
    )
    commands.add_parser(
        "list-grid-companies", help="list shipped grid tariffs and their validity"
    )
    return parser


def _company(args: argparse.Namespace) -> GridCompany:
    if args.tariff_file is not None:
        company = load_grid_company_file(args.tariff_file)
        if company.id != args.grid_company:
            raise TariffError(
                f"{args.tariff_file} holds {company.id!r}, not {args.grid_company!r}"
            )
        return company
    return load_grid_company(args.grid_company)


def run_bill(args: argparse.Namespace) -> dict[str, Any]:
    """Compute the bill the arguments describe."""
    company = _company(args)
    if args.fixed_price is not None:
        supply = Supply.fixed(
            exact(args.fixed_price), exact(args.monthly_fee), exact(args.markup)
        )
    else:
        supply = Supply.spot(exact(args.markup), exact(args.monthly_fee))
    installation = Installation(
        company=company,
        zone=TaxZone(args.zone) if args.zone else None,
        scheme=Scheme(args.scheme),
        supply=supply,
        dwelling=Dwelling(args.dwelling),
        fuse=args.fuse,
        metering_minutes=args.metering_minutes,
    )
    month: Month = args.month
    readings = read_consumption_csv(args.consumption.read_text(encoding="utf-8"))
    history: list[Reading] = []
    current: list[Reading] = []
    for reading in readings:
        if utc(reading.start) >= month.end:
            raise ValueError(
                f"consumption at {reading.start.isoformat()} is after {month}"
            )
        (current if utc(reading.start) >= month.start else history).append(reading)
    spot = read_spot_csv(args.spot.read_text(encoding="utf-8"))
    bill = compute_bill(installation, month, current, spot, history=history)
    return bill_to_json(bill, hourly=args.hourly)


def run_list() -> list[dict[str, Any]]:
    """Describe every shipped company and its tariff periods."""
    return [
        {
            "id": company.id,
            "name": company.name,
            "default_zone": str(company.default_zone),
            "price_areas": list(company.price_areas),
            "tariffs": [
                {
                    "id": tariff.id,
                    "valid_from": tariff.validity.valid_from.isoformat(),
                    "valid_to": None
                    if tariff.validity.valid_to is None
                    else tariff.validity.valid_to.isoformat(),
                    "capacity_method": str(tariff.capacity.method),
                    "uncertain": list(tariff.notes),
                }
                for tariff in company.tariffs
            ],
        }
        for company in list_grid_companies()
    ]


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the command line; return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        result: object = run_bill(args) if args.command == "bill" else run_list()
    except (TariffError, ValueError, OSError) as error:
        err.write(
            json.dumps(
                {"error": f"{type(error).__name__}: {error}"}, ensure_ascii=False
            )
            + "\n"
        )
        return 1
    out.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
