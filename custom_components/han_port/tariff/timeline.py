"""Dated values with provenance, and the strict reader of the shipped JSON files.

Every number the engine uses carries where it came from and when it was valid,
so a bill can say which figures are uncertain and a lookup past the newest
figure fails instead of extrapolating.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
import itertools
from typing import cast

from .errors import RateExpiredError, RateUnavailableError, TariffDataError
from .exact import exact


@dataclass(frozen=True, slots=True)
class Source:
    """Where a figure comes from: a document or dataset, its address and its date."""

    name: str
    date: date
    url: str | None = None
    verified_by_invoice: bool = False


@dataclass(frozen=True, slots=True)
class Provenance:
    """Source of a block of figures plus the doubts about them, kept visible."""

    source: Source
    uncertain: bool = False
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Validity:
    """Local (Oslo) dates: ``valid_from`` inclusive, ``valid_to`` exclusive, ``None`` = open."""

    valid_from: date
    valid_to: date | None

    def covers(self, day: date) -> bool:
        """Say whether ``day`` is inside the period."""
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True, slots=True)
class Dated[T]:
    """One value of a timeline."""

    validity: Validity
    value: T
    provenance: Provenance


class Timeline[T]:
    """Non-overlapping dated values in order; lookups outside them raise."""

    def __init__(self, what: str, entries: Iterable[Dated[T]]) -> None:
        """Sort and check the periods: no overlap, only the last may be open."""
        self.what = what
        self.entries = tuple(
            sorted(entries, key=lambda entry: entry.validity.valid_from)
        )
        if not self.entries:
            raise TariffDataError(f"{what}: no dated values")
        for before, after in itertools.pairwise(self.entries):
            end = before.validity.valid_to
            if end is None or end > after.validity.valid_from:
                raise TariffDataError(
                    f"{what}: period from {before.validity.valid_from} overlaps the one "
                    f"from {after.validity.valid_from}"
                )
        for entry in self.entries:
            end = entry.validity.valid_to
            if end is not None and end <= entry.validity.valid_from:
                raise TariffDataError(
                    f"{what}: period from {entry.validity.valid_from} ends before it starts"
                )

    def describe(self, entry: Dated[T]) -> str:
        """Name an entry for a message: what it is and from when."""
        return f"{self.what} from {entry.validity.valid_from.isoformat()}"

    def notes(self, entry: Dated[T]) -> tuple[str, ...]:
        """Return the doubt recorded on an entry, if any, for a bill's list of uncertain figures."""
        if entry.provenance.uncertain:
            return (f"{self.describe(entry)}: {entry.provenance.note}",)
        return ()

    def at(self, day: date) -> Dated[T]:
        """Return the entry valid on ``day`` or raise a typed error."""
        for entry in self.entries:
            if entry.validity.covers(day):
                return entry
        last_end = self.entries[-1].validity.valid_to
        if last_end is not None and day >= last_end:
            raise RateExpiredError(self.what, day, last_end)
        raise RateUnavailableError(
            self.what, day, f"{self.what}: no rate for {day.isoformat()}"
        )


# --- strict JSON reading -------------------------------------------------------
#
# The files are read by hand instead of with a schema library: the package has
# no dependencies, and each reader names the exact key that is wrong.

type Json = Mapping[str, object]


class Reader:
    """Typed access to one JSON object; unknown keys are an error, not ignored."""

    def __init__(self, where: str, raw: object, allowed: Iterable[str]) -> None:
        """Check that ``raw`` is an object with only ``allowed`` keys."""
        if not isinstance(raw, dict):
            raise TariffDataError(f"{where}: expected an object")
        self.where = where
        self.raw = cast(dict[str, object], raw)
        unknown = set(self.raw) - set(allowed)
        if unknown:
            raise TariffDataError(f"{where}: unknown keys {sorted(unknown)}")

    def has(self, key: str) -> bool:
        """Say whether ``key`` is present and not null."""
        return self.raw.get(key) is not None

    def _get(self, key: str) -> object:
        if key not in self.raw:
            raise TariffDataError(f"{self.where}: missing {key!r}")
        return self.raw[key]

    def text(self, key: str) -> str:
        """Return a non-empty string."""
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise TariffDataError(f"{self.where}.{key}: expected a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        """Return a string or ``None`` when absent."""
        return self.text(key) if self.has(key) else None

    def flag(self, key: str, default: bool = False) -> bool:
        """Return a boolean, ``default`` when absent."""
        if not self.has(key):
            return default
        value = self.raw[key]
        if not isinstance(value, bool):
            raise TariffDataError(f"{self.where}.{key}: expected true or false")
        return value

    def integer(self, key: str, default: int | None = None) -> int:
        """Return an integer."""
        if default is not None and not self.has(key):
            return default
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TariffDataError(f"{self.where}.{key}: expected an integer")
        return value

    def number(self, key: str) -> Fraction:
        """Return an exact number written as a decimal string ("0.2877")."""
        return parse_number(f"{self.where}.{key}", self._get(key))

    def day(self, key: str) -> date:
        """Return an ISO date."""
        return parse_day(f"{self.where}.{key}", self._get(key))

    def optional_day(self, key: str) -> date | None:
        """Return an ISO date or ``None``."""
        return self.day(key) if self.has(key) else None

    def items(self, key: str, *, required: bool = True) -> list[object]:
        """Return a list; an absent optional list is empty."""
        if not required and not self.has(key):
            return []
        value = self._get(key)
        if not isinstance(value, list):
            raise TariffDataError(f"{self.where}.{key}: expected a list")
        return cast(list[object], value)

    def child(self, key: str, allowed: Iterable[str]) -> Reader:
        """Return a reader for a nested object."""
        return Reader(f"{self.where}.{key}", self._get(key), allowed)

    def mapping(self, key: str) -> dict[str, object]:
        """Return a nested object as a plain mapping."""
        value = self._get(key)
        if not isinstance(value, dict):
            raise TariffDataError(f"{self.where}.{key}: expected an object")
        return cast(dict[str, object], value)


def parse_number(where: str, value: object) -> Fraction:
    """Read an exact decimal string; JSON floats are refused so no binary rounding sneaks in."""
    if not isinstance(value, str):
        raise TariffDataError(f'{where}: numbers are written as strings, e.g. "0.2877"')
    try:
        return exact(value)
    except ValueError as err:
        raise TariffDataError(f"{where}: {err}") from err


def parse_day(where: str, value: object) -> date:
    """Read an ISO date."""
    if not isinstance(value, str):
        raise TariffDataError(f"{where}: expected an ISO date")
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise TariffDataError(f"{where}: {err}") from err


PROVENANCE_KEYS = ("source", "uncertain", "note")
VALIDITY_KEYS = ("valid_from", "valid_to")


def read_source(reader: Reader) -> Source:
    """Read a ``source`` object: name and date are required on every figure."""
    raw = reader.child("source", ("name", "url", "date", "verified_by_invoice"))
    return Source(
        name=raw.text("name"),
        date=raw.day("date"),
        url=raw.optional_text("url"),
        verified_by_invoice=raw.flag("verified_by_invoice"),
    )


def read_provenance(reader: Reader) -> Provenance:
    """Read ``source``, ``uncertain`` and ``note``; an uncertain figure must say why."""
    provenance = Provenance(
        source=read_source(reader),
        uncertain=reader.flag("uncertain"),
        note=reader.optional_text("note"),
    )
    if provenance.uncertain and provenance.note is None:
        raise TariffDataError(
            f"{reader.where}: an uncertain figure needs a note saying why"
        )
    return provenance


def read_validity(reader: Reader) -> Validity:
    """Read ``valid_from`` (required) and ``valid_to`` (exclusive, optional)."""
    return Validity(reader.day("valid_from"), reader.optional_day("valid_to"))


def read_timeline[T](
    what: str,
    where: str,
    raw: list[object],
    value_keys: Iterable[str],
    value: Callable[[Reader], T],
) -> Timeline[T]:
    """Read a list of dated values, each with validity and provenance."""
    keys = (*VALIDITY_KEYS, *PROVENANCE_KEYS, *value_keys)
    entries = []
    for index, item in enumerate(raw):
        reader = Reader(f"{where}[{index}]", item, keys)
        entries.append(
            Dated(read_validity(reader), value(reader), read_provenance(reader))
        )
    return Timeline(what, entries)
