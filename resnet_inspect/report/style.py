"""Colours and labels shared by the terminal table and the Graphviz diagrams, so a projection
shortcut looks the same in both.

The display vocabulary only: the shortcut kinds themselves are ``plan.SHORTCUT_KINDS``, and every
table here keyed by kind has exactly those keys (``tests/test_vocabulary.py``)."""

from __future__ import annotations

from typing import Final

#: Hex colour per shortcut kind (readable on dark and light terminals, and on white SVG).
SHORTCUT_COLORS: Final[dict[str, str]] = {
    "identity": "#2e9e44",
    "zero_pad": "#1f8fbf",
    "projection": "#d9481c",
    "avgpool_projection": "#8e44ad",
    "none": "#888888",
    "other": "#b8860b",
}

#: What reports call each shortcut kind.
SHORTCUT_LABELS: Final[dict[str, str]] = {
    "identity": "identity",
    "zero_pad": "zero-pad",
    "projection": "projection",
    "avgpool_projection": "avg-pool projection",
    "none": "none",
    "other": "other",
}

#: Short names of the extras a traced unit may hold, for the block-kind column.
EXTRA_LABELS: Final[dict[str, str]] = {
    "squeeze-excitation": "SE",
    "gate": "gate",
    "dropout": "dropout",
    "stochastic depth": "drop-path",
}

#: The counting convention, stated under every table of counts.
CONVENTION: Final = (
    "params: trainable parameters (BN running statistics excluded). "
    "MACs: multiply-adds of conv and FC layers, batch 1 (FLOPs = 2 x MACs); "
    "see docs/counting.md."
)


def shortcut_markup(kind: str, text: str | None = None) -> str:
    """Rich markup for a shortcut kind (``text``, escaped, instead of its label)."""
    from rich.markup import escape

    return f"[{SHORTCUT_COLORS[kind]}]{escape(text if text is not None else SHORTCUT_LABELS[kind])}[/]"
