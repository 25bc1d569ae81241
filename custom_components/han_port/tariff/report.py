"""JSON output of a bill: every figure rounded to øre (energy to Wh) only here.

Each line is rounded on its own and the totals from the exact sum, as an
invoice does, so a total may differ from the sum of its rounded lines by an øre.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from .bill import Bill, CapacityCharge, HourCost
from .clock import local
from .exact import ZERO, rounded, to_ore


def bill_to_json(bill: Bill, *, hourly: bool = False) -> dict[str, Any]:
    """Return a bill as JSON-ready data."""
    capacity = bill.grid_capacity
    data: dict[str, Any] = {
        "grid_company": bill.company_id,
        "tariff": bill.tariff_id,
        "month": str(bill.month),
        "zone": str(bill.zone),
        "scheme": str(bill.scheme),
        "kwh": _num(rounded(bill.kwh, 3)),
        "kwh_day": _num(rounded(bill.kwh_by_band.get("day", ZERO), 3)),
        "kwh_night": _num(rounded(bill.kwh_by_band.get("night", ZERO), 3)),
        "kwh_by_band": {
            band: _num(rounded(kwh, 3)) for band, kwh in bill.kwh_by_band.items()
        },
        "grid_energy": _money(bill.grid_energy),
        "grid_capacity": {
            "amount": _money(capacity.amount),
            "method": str(capacity.method),
            "capacity_kw": _num(rounded(capacity.capacity_kw, 3)),
            "step": _step_json(capacity),
            "peaks": [
                [
                    peak.local_start.date().isoformat(),
                    peak.local_start.hour,
                    _num(rounded(peak.kwh, 3)),
                ]
                for peak in capacity.peaks
            ],
        },
        "elavgift": _money(bill.elavgift),
        "enova": _money(bill.enova),
        "supply": _money(bill.supply),
        "supply_energy": _money(bill.supply_energy),
        "supply_fee": _money(bill.supply_fee),
        "stromstotte": _money(bill.stromstotte),
        "norgespris": _money(bill.norgespris),
        "grid_total": _money(bill.grid_total),
        "total": _money(bill.total),
        "uncertain": list(bill.notes),
    }
    if hourly:
        data["hours"] = [_hour_json(hour) for hour in bill.hours]
    return data


def _num(value: Decimal) -> float | int:
    """JSON number of a rounded Decimal; its shortest float text is the same digits."""
    return int(value) if value == value.to_integral_value() else float(value)


def _money(value: Fraction) -> float:
    return float(to_ore(value))


def _step_json(capacity: CapacityCharge) -> dict[str, Any] | None:
    step = capacity.step
    if step is None:
        return None
    return {
        "index": step.index,
        "from_kw": _num(rounded(step.from_kw, 3)),
        "to_kw": None if step.to_kw is None else _num(rounded(step.to_kw, 3)),
    }


def _hour_json(hour: HourCost) -> dict[str, Any]:
    return {
        "start": local(hour.start).isoformat(),
        "kwh": _num(rounded(hour.kwh, 3)),
        "band": hour.band,
        "spot": None if hour.spot is None else _num(rounded(hour.spot, 5)),
        "grid_energy": _money(hour.grid_energy),
        "elavgift": _money(hour.elavgift),
        "enova": _money(hour.enova),
        "supply": _money(hour.supply),
        "stromstotte": _money(hour.stromstotte),
        "norgespris": _money(hour.norgespris),
        "total": _money(hour.total),
    }
