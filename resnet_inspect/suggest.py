"""The "did you mean X?" part of every message about an unknown name (a preset, a SPEC or file
key, a command, a schema, a counting convention).

Standard library only, so the CLI's command lookup can use it without importing anything else.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Final

#: How alike a choice must be (``difflib``'s ratio) to be suggested.
CUTOFF: Final = 0.6
#: Words this long or longer get no suggestion: a ratio of 0.6 needs a choice at least 3/7 of the
#: word's length (28 characters here), longer than any name suggested, and comparing a 900 KB key
#: against every choice would cost seconds.
MAX_WORD: Final = 64


def close_matches(word: object, choices: Iterable[str], n: int = 1) -> list[str]:
    """Up to ``n`` of ``choices`` close to ``word``, closest first; none for a word that is not a
    string or is ``MAX_WORD`` characters or longer."""
    if not isinstance(word, str) or len(word) >= MAX_WORD:
        return []
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=CUTOFF)


def did_you_mean(word: object, choices: Iterable[str], n: int = 1) -> str:
    """``"did you mean X? "`` (``"did you mean X or Y? "`` for ``n`` > 1), or ``""`` when no choice
    is close; the trailing space lets a caller put it straight before the next sentence."""
    close = close_matches(word, choices, n)
    return f"did you mean {' or '.join(close)}? " if close else ""
