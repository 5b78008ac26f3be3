"""Human-readable numbers: ``25.56 M`` out, ``26M`` / ``4.2G`` / ``1_000`` in.

Decimal (SI) prefixes throughout, as in the papers and torchvision's metadata (4.09 GFLOPS means
4.09e9), never binary ones.
"""

from __future__ import annotations

import re
from typing import Final

_PREFIXES: Final = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))
_SUFFIX_VALUE: Final = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_NUMBER: Final = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?|\.[0-9]+)\s*([kKmMgGtT]?)\s*$")


def human(value: float, digits: int = 2) -> str:
    """``25557032 -> '25.56 M'``, ``4089184256 -> '4.09 G'``, ``650 -> '650'``."""
    magnitude = abs(value)
    for scale, prefix in _PREFIXES:
        if magnitude >= scale:
            return f"{value / scale:.{digits}f} {prefix}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.{digits}f}"


def signed_human(value: float, digits: int = 2) -> str:
    """Like ``human`` with an explicit sign, for differences: ``+0.92 M``, ``-4.10 K``, ``0``."""
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + human(abs(value), digits)


def percent(part: float, whole: float, digits: int = 1) -> str:
    if whole == 0:
        return "-"
    return f"{100.0 * part / whole:.{digits}f}%"


def parse_count(text: str) -> int:
    """``'26M' -> 26000000``, ``'4.2G' -> 4200000000``, ``'1_000' -> 1000``.

    Raises ``ValueError`` with the accepted forms, so a budget typo is a clear message.
    """
    m = _NUMBER.match(str(text))
    if not m:
        raise ValueError(
            f"{text!r} is not a count; write an integer or a number with K, M, G or T (e.g. 26M, 4.2G)"
        )
    number, suffix = m.groups()
    scaled = float(number.replace("_", "")) * _SUFFIX_VALUE[suffix.upper()]
    return round(scaled)
