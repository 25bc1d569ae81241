"""Norwegian public holidays, computed from the calendar.

Grid companies with a weekend discount also give the night rate on the days of
the Public Holidays Act (helligdagsfredsloven) plus 1 and 17 May. The movable
feasts hang on Easter, so no table needs a yearly update.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

# Days after Easter Sunday: Maundy Thursday, Good Friday, Easter Sunday and
# Monday, Ascension Day, Whit Sunday and Monday.
_EASTER_OFFSETS = (-3, -2, 0, 1, 39, 49, 50)
_FIXED = ((1, 1), (5, 1), (5, 17), (12, 25), (12, 26))


def easter_sunday(year: int) -> date:
    """Return Gregorian Easter Sunday (the anonymous Gregorian computus)."""
    golden = year % 19
    century, year_of_century = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    moon_correction = (century + 8) // 25
    solar = (century - moon_correction + 1) // 3
    epact = (19 * golden + century - leap_centuries - solar + 15) % 30
    quarter, year_rest = divmod(year_of_century, 4)
    weekday = (32 + 2 * century_rest + 2 * quarter - epact - year_rest) % 7
    shift = (golden + 11 * epact + 22 * weekday) // 451
    month, day = divmod(epact + weekday - 7 * shift + 114, 31)
    return date(year, month, day + 1)


@cache
def public_holidays(year: int) -> frozenset[date]:
    """Return the Norwegian public holidays (helligdager and høytidsdager) of ``year``."""
    easter = easter_sunday(year)
    movable = {easter + timedelta(days=offset) for offset in _EASTER_OFFSETS}
    return frozenset(movable | {date(year, month, day) for month, day in _FIXED})


def is_public_holiday(day: date) -> bool:
    """Say whether ``day`` is a Norwegian public holiday."""
    return day in public_holidays(day.year)
