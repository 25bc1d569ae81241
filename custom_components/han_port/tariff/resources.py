"""Access to the JSON files shipped in ``data/``, wherever the package is installed."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

_DATA = files(__package__ or "custom_components.han_port.tariff").joinpath("data")


def data_text(*parts: str) -> str:
    """Return the text of a shipped data file."""
    return _DATA.joinpath(*parts).read_text(encoding="utf-8")


def data_names(folder: str) -> list[str]:
    """Return the JSON file names in a data folder, sorted."""
    return list(_names(folder))


@cache
def _names(folder: str) -> tuple[str, ...]:
    """List a folder once: the shipped files do not change while running."""
    return tuple(
        sorted(
            entry.name
            for entry in _DATA.joinpath(folder).iterdir()
            if entry.name.endswith(".json")
        )
    )
