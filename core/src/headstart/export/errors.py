"""The error of an export (a module of its own: the writers and the dispatcher both raise it)."""

from __future__ import annotations

from ..options import ConfigError


class ExportError(ConfigError):
    """A format that does not apply to this run, or an export that does not match the model."""
