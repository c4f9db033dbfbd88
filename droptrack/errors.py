"""One exception tree for user-facing errors; every message names the problem and the fix."""

from __future__ import annotations


class DropTrackError(Exception):
    """A user error: the CLI prints it on one line and exits with code 2."""

    exit_code = 2


class ConfigError(DropTrackError):
    """Unknown config name, unknown key or invalid value."""


class CheckpointError(DropTrackError):
    """Missing, corrupt or mismatched checkpoint."""


class InputError(DropTrackError):
    """Bad user input: init box, source, options."""


class SourceError(DropTrackError):
    """A frame source that cannot be opened or stops delivering."""


class DatasetError(DropTrackError):
    """Missing root or malformed dataset tree."""


class ExportError(DropTrackError):
    """Export failed or parity out of tolerance."""


class BackendError(DropTrackError):
    """An artifact cannot be run by the selected backend."""


class TrainingError(DropTrackError):
    """Training cannot start or continue (NaN loss, empty dataset, bad resume)."""


class GateError(DropTrackError):
    """A benchmark gate failed (exit code 1, so CI can use it)."""

    exit_code = 1
