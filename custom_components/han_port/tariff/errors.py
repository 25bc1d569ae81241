"""Typed errors of the tariff engine.

The Home Assistant layer acts on them: an expired rate becomes a repair issue,
a missing spot price leaves the price sensor unknown, a data error is a bug in
a shipped file or in a user's custom tariff.
"""

from __future__ import annotations

from datetime import date


class TariffError(Exception):
    """Base of every error the tariff engine raises on purpose."""


class TariffDataError(TariffError):
    """A tariff, tax or scheme file does not match the schema or contradicts itself."""


class UnknownGridCompanyError(TariffError):
    """No shipped grid company has the requested id."""


class RateUnavailableError(TariffError):
    """No rate is known for the requested date, so nothing is extrapolated."""

    def __init__(self, what: str, day: date, message: str) -> None:
        """Keep what was looked up and for which day, for the repair issue."""
        super().__init__(message)
        self.what = what
        self.day = day


class RateExpiredError(RateUnavailableError):
    """The newest known rate ended before the requested date: the data needs an update."""

    def __init__(self, what: str, day: date, valid_to: date) -> None:
        """Say which rate ran out and when."""
        super().__init__(
            what,
            day,
            f"{what}: no rate after {valid_to.isoformat()} (asked for {day.isoformat()})",
        )
        self.valid_to = valid_to


class MissingRateError(RateUnavailableError):
    """The period is known but this part of it was never published (e.g. a capacity step)."""


class MissingPriceError(TariffError):
    """A spot price needed for a settlement interval is absent or incomplete."""
