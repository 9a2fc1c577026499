"""Error types shared by the whole package.

`XRouterError` subclasses carry an exit code so the CLI can map them to one clear
line on stderr: 2 for usage or data errors (bad flags, bad files), 1 otherwise.
"""

from __future__ import annotations


class XRouterError(Exception):
    """Base class for errors that xrouter reports to users in one line."""

    exit_code = 1


class UsageError(XRouterError):
    """Bad command-line usage (unknown flag value, conflicting options)."""

    exit_code = 2


class DataError(XRouterError):
    """Bad input data: a file, row or field that cannot be used; names the culprit."""

    exit_code = 2


class CatalogError(DataError):
    """The model catalog (shipped or user-provided) is invalid or lacks a requested model."""
