"""Access to the shared conformance corpus of real meter frames (``../shared/han-corpus``).

The corpus lives beside the repository and is never copied into it; tests that
need it skip when it is absent.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
import json
import math
from pathlib import Path
from typing import Any

from custom_components.han_port.han.apdu import Keys
from custom_components.han_port.han.model import (
    Quantity,
    Reading,
    Telegram,
    quantity_for,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "han-corpus"

_TO_SI = {
    "kWh": ("Wh", 1000),
    "kvarh": ("varh", 1000),
    "kW": ("W", 1000),
    "kvar": ("var", 1000),
}


@cache
def load(name: str) -> list[dict[str, Any]]:
    """Return the entries of one JSONL file of the corpus."""
    with (CORPUS / name).open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def frame_bytes(entry: dict[str, Any]) -> bytes:
    """Return an entry's bytes as they were on the wire (P1 text as latin-1)."""
    if "text" in entry:
        return str(entry["text"]).encode("latin-1")
    return bytes.fromhex(entry["hex"])


def checksum_valid(entry: dict[str, Any]) -> bool:
    """Tell whether the corpus recorded a valid checksum (or the format has none)."""
    fmt = entry["format"]
    if fmt.startswith("hdlc"):
        return bool(entry["fcs_ok"]) and bool(entry["hdlc"]["hcs_ok"] is not False)
    if fmt.startswith("mbus"):
        return all(
            segment.get("mbus_checksum_ok") and segment.get("mbus_length_ok")
            for segment in entry["mbus"]
        )
    if fmt == "p1_ascii":
        return entry.get("p1_crc_ok", True) is not False
    return True


def keys_of(entry: dict[str, Any]) -> Keys | None:
    """Return the published example keys of an entry, if it has any."""
    keys = entry.get("keys")
    if not keys:
        return None
    return Keys.from_hex(keys["encryption_key"], keys.get("authentication_key"))


def _parse_time(text: str) -> datetime:
    if (
        len(text) > 3
        and text[-3] in "+-"
        and text[-3:].replace("+", "").replace("-", "").isdigit()
    ):
        text += ":00"
    return datetime.fromisoformat(text)


def _same_time(expected: str, actual: object) -> bool:
    if not isinstance(actual, datetime):
        return False
    want = _parse_time(expected)
    if want.tzinfo is None or actual.tzinfo is None:
        # The source (or the meter) leaves the UTC offset unspecified: compare wall clocks.
        return want.replace(tzinfo=None) == actual.replace(tzinfo=None)
    return want == actual and want.utcoffset() == actual.utcoffset()


def _find(telegram: Telegram, key: str) -> Reading | None:
    if key in telegram.readings:
        return telegram.readings[key]
    parts = key.split(".")
    if len(parts) != 6 or not all(part.isdigit() for part in parts):
        return None
    obis = tuple(int(part) for part in parts)
    known = quantity_for(obis)  # type: ignore[arg-type]
    if known is None:
        return None
    for reading in telegram.readings.values():
        if reading.quantity is known[0]:
            return reading
    return None


def mismatches(entry: dict[str, Any], telegram: Telegram) -> list[str]:
    """Compare a telegram with an entry's asserted values; return what differs."""
    problems: list[str] = []
    for key, spec in (entry.get("expected") or {}).items():
        want = spec["value"] if isinstance(spec, dict) else spec
        unit = spec.get("unit") if isinstance(spec, dict) else None
        actual: object
        if key == "meter_id":
            actual = telegram.meter_id
        elif key == "list_version_id":
            actual = telegram.list_version
        elif key == "apdu_datetime":
            actual = telegram.push_time
        elif key == "meter_number":
            actual = telegram.get(Quantity.METER_NUMBER) or telegram.meter_id
        else:
            reading = _find(telegram, key)
            if reading is None:
                problems.append(f"{key}: missing")
                continue
            actual = reading.value
            if unit in _TO_SI:
                unit, factor = _TO_SI[unit]
                want = want * factor
            if unit and reading.unit != unit:
                problems.append(f"{key}: unit {reading.unit!r} != {unit!r}")
                continue
        if isinstance(want, str) and (key.startswith("0.") or key == "apdu_datetime"):
            if _looks_like_time(want):
                if not _same_time(want, actual):
                    problems.append(f"{key}: {actual!r} != {want!r}")
                continue
        if isinstance(want, (int, float)) and not isinstance(want, bool):
            tolerance = _golden_tolerance(entry, unit)
            if not isinstance(actual, (int, float)) or not math.isclose(
                actual, want, rel_tol=1e-9, abs_tol=tolerance
            ):
                problems.append(f"{key}: {actual!r} != {want!r}")
        elif str(actual) != str(want):
            problems.append(f"{key}: {actual!r} != {want!r}")
    return problems


def _looks_like_time(text: str) -> bool:
    return len(text) >= 19 and text[4] == "-" and text[10] == "T"


def _golden_tolerance(entry: dict[str, Any], unit: str | None) -> float:
    """Amsreader's golden values are asserted with 0.02 V/A and 0.01 kWh tolerance."""
    if "amsreader" not in str(entry.get("expected_source", "")):
        return 1e-9
    return {"V": 0.02, "A": 0.02, "Wh": 10.0, "varh": 10.0}.get(unit or "", 1e-9)
