"""`dt`: the droptrack command line. Each command parses options, calls one library function and prints."""

from droptrack.cli.app import app, friendly
from droptrack.cli import data_train, evaluate, track, serve, deploy  # noqa: F401,E402  (register the commands, in help order)

__all__ = ["app", "friendly"]
