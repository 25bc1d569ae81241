"""Exact numbers: money and energy are Fractions inside, rounded only at output.

Floats would make a monthly bill drift by øre from the invoice, and Decimal
division is inexact too (a capacity price per year divided by 12), so every
amount is a ``Fraction`` until it is shown.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

type Number = Fraction | Decimal | int | str | float

ZERO = Fraction(0)
ONE = Fraction(1)


def exact(value: Number) -> Fraction:
    """Return ``value`` as an exact Fraction.

    Strings and Decimals are read digit by digit. A float is read through its
    shortest decimal text (``5.9`` means 5.9, not the nearest binary double),
    because sensor states arrive as floats and their decimal text is what the
    meter sent.
    """
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation as err:
            raise ValueError(f"not a number: {value!r}") from err
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    return Fraction(value)


def rounded(value: Fraction, places: int = 2) -> Decimal:
    """Round half away from zero to ``places`` decimals, as invoices round 0.005 up."""
    scaled = abs(value) * 10**places
    whole = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)
    return Decimal(-whole if value < 0 else whole).scaleb(-places)


def to_ore(value: Fraction) -> Decimal:
    """Round an amount in NOK to whole øre."""
    return rounded(value, 2)
