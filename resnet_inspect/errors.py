"""Domain errors.

The core raises these; only the CLI turns them into exit codes, so the library stays usable from
Python and the mapping to ``exit 2`` / ``exit 1`` lives in one place (``cli``).
"""

from __future__ import annotations


class ResnetInspectError(Exception):
    """Base of every error the tool reports to a user as one line."""

    exit_code: int = 2


class SpecError(ResnetInspectError):
    """A spec, a SPEC string, an override or a config file is not valid.

    ``problems`` keeps every problem found, so a config loader can list them all at once while
    ``str(error)`` stays a single line for the command line.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems) if problems else [message]


class UsageError(ResnetInspectError):
    """A command-line option or its combination is not valid."""


class CheckFailed(ResnetInspectError):
    """A check ran and its answer is "no" (budget exceeded, verification mismatch)."""

    exit_code = 1


class MissingDependency(ResnetInspectError):
    """An optional program or package is needed for this command and is not installed."""
