"""Human-readable numbers: ``25.56 M`` out, ``26M`` / ``4.2G`` / ``1_000`` in; percentages.

The one home of number formatting: every report writes counts, differences, bytes and percentages
through these functions (and table cells through ``report.tables``' ``num_cell`` family).

Counts (parameters, MACs) take decimal (SI) prefixes, as in the papers and torchvision's metadata
(4.09 GFLOPS means 4.09e9): ``SI_PREFIXES`` is the one table of them, written and read (rates too,
``traffic.parse_flops``). Bytes take binary ones (KiB, MiB, GiB), as GPU memory is quoted: a
"24 GB" card holds 24 GiB.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Final

#: Decimal (SI) prefixes and what they multiply by, smallest first.
SI_PREFIXES: Final[dict[str, int]] = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_DESCENDING: Final = tuple(reversed(SI_PREFIXES.items()))
_SUFFIX_VALUE: Final = {"": 1, **SI_PREFIXES}
_NUMBER: Final = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?|\.[0-9]+)\s*([kKmMgGtT]?)\s*$")
#: Longest text read as a count; longer text is refused before any conversion (``int()`` of a
#: string has its own limit of 4,300 digits).
MAX_COUNT_CHARS: Final = 1000


def si_scale(value: float, largest: str = "T") -> tuple[int, str]:
    """The largest prefix, up to ``largest``, that ``value`` reaches, and its value:
    ``(10**6, 'M')`` for 21.8e6, ``(1, '')`` below 1,000."""
    magnitude = abs(value)
    top = SI_PREFIXES[largest]
    for prefix, scale in _DESCENDING:
        if scale <= top and magnitude >= scale:
            return scale, prefix
    return 1, ""


def human(value: float, digits: int = 2) -> str:
    """``25557032 -> '25.56 M'``, ``4089184256 -> '4.09 G'``, ``650 -> '650'``."""
    scale, prefix = si_scale(value)
    if prefix:
        return f"{value / scale:.{digits}f} {prefix}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.{digits}f}"


def signed_human(value: float, digits: int = 2) -> str:
    """Like ``human`` with an explicit sign, for differences: ``+0.92 M``, ``-4.10 K``, ``0``."""
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + human(abs(value), digits)


def in_unit_of(delta: int, total: int, signed: bool = True) -> str:
    """``delta`` in the unit of ``total`` (K, M or G): +919,168 against 21.8 M reads ``+0.92 M``,
    where ``signed_human`` would write ``+919.17 K``."""
    if delta == 0:
        return "0"
    scale, prefix = si_scale(total, largest="G")
    sign = ("+" if delta > 0 else "-") if signed else ""
    text = f"{abs(delta) / scale:.2f} {prefix}" if prefix else f"{abs(delta)}"
    return f"{sign}{text}"


def percent(part: float, whole: float, digits: int = 1, signed: bool = False) -> str:
    """``part`` as a percentage of ``whole``: ``12.5%`` (``+12.50%`` signed); ``-`` when ``whole`` is 0."""
    if whole == 0:
        return "-"
    return _percent_text(100.0 * part / whole, digits, signed)


def ratio_percent(ratio: float, digits: int = 1, signed: bool = False) -> str:
    """A ratio as a percentage: ``0.125 -> '12.5%'``, ``-0.051 -> '-5.1%'`` (``signed``: ``+``
    before a positive one)."""
    return _percent_text(100.0 * ratio, digits, signed)


def _percent_text(value: float, digits: int, signed: bool) -> str:
    return f"{value:+.{digits}f}%" if signed else f"{value:.{digits}f}%"


def percent_value(part: float, whole: float, digits: int = 4) -> float | None:
    """``part`` as a percentage of ``whole``, a number for JSON (rounded to ``digits`` decimals);
    None when ``whole`` is 0."""
    return round(100.0 * part / whole, digits) if whole else None


def parse_count(text: str) -> int:
    """``'26M' -> 26000000``, ``'4.2G' -> 4200000000``, ``'1_000' -> 1000``; never negative.

    Exact (decimal arithmetic, no float), so a number of hundreds of digits is a number, not an
    overflow, and a count is whole: ``'2.5'`` or ``'1.0000005M'`` is refused rather than rounded.
    Raises ``ValueError`` with the accepted forms, so a budget typo is a clear message.
    """
    raw = str(text)
    m = _NUMBER.match(raw) if len(raw) <= MAX_COUNT_CHARS else None
    if not m:
        raise ValueError(
            f"{_shown(raw)} is not a count; write an integer or a number with K, M, G or T (e.g. 26M, 4.2G)"
        )
    number, suffix = m.groups()
    scaled = Fraction(number.replace("_", "")) * _SUFFIX_VALUE[suffix.upper()]
    if scaled.denominator != 1:
        raise ValueError(f"{_shown(raw)} is not a whole number; a count is an integer (2.5K, which is 2500, is one)")
    return int(scaled)


def _shown(text: str, limit: int = 60) -> str:
    """``repr(text)`` cut to ``limit`` characters, keeping its start and end, for error messages."""
    shown = repr(text[: 2 * limit])
    if len(text) > 2 * limit or len(shown) > limit:
        shown = shown[: limit // 2] + "..." + repr(text[-limit // 4:])[1:]
    return shown


_BYTE_UNITS: Final = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))
_BYTE_SUFFIX: Final = {
    "": 1, "B": 1, "K": 2**10, "KIB": 2**10, "M": 2**20, "MIB": 2**20, "G": 2**30, "GIB": 2**30, "T": 2**40, "TIB": 2**40,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
}
_BYTES: Final = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?|\.[0-9]+)\s*([a-zA-Z]{0,3})\s*$")


def human_bytes(value: int, digits: int = 2) -> str:
    """``86334464 -> '82.33 MiB'``, ``512 -> '512 B'``."""
    for scale, unit in _BYTE_UNITS:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f} {unit}"
    return f"{value} B"


def parse_bytes(text: str) -> int:
    """``'24GiB' -> 25769803776``, ``'24G'`` the same, ``'80GB' -> 80000000000``, ``'512MiB'``.

    A bare K/M/G/T is binary (as in ``--fit 24G`` for a 24 GB card); ``GB`` and the like are
    decimal. Raises ``ValueError`` naming the accepted forms."""
    m = _BYTES.match(str(text)[:64])
    unit = m.group(2).upper() if m else ""
    if not m or unit not in _BYTE_SUFFIX:
        shown = str(text)[:40]
        raise ValueError(f"{shown!r} is not a size; write a number with B, KiB, MiB, GiB or TiB (e.g. 24GiB, 512MiB, 80GB)")
    value = float(m.group(1).replace("_", "")) * _BYTE_SUFFIX[unit]
    if not value < 2**60:  # also inf, from a number of hundreds of digits
        raise ValueError(f"{str(text)[:40]!r} is larger than any memory (at most 1 EiB)")
    return int(value)
