"""`dt`: the droptrack command line. Each command parses options, calls one library function and prints."""

from droptrack.cli.app import app, friendly
from droptrack.cli import data_train, evaluate, track, serve, deploy  # noqa: E402 (registers the commands, in order)

__all__ = ["app", "friendly", "data_train", "evaluate", "track", "serve", "deploy"]   # modules: imported to register
