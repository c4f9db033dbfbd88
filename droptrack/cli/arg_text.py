"""Command-line arguments that are not UTF-8: a file name written under another encoding (latin-1 'lat\xe9.pt') reaches
Python as text with surrogate escapes, which ONNX Runtime and safetensors refuse with a wrong diagnosis and which
crashed dt eval's plots and dt bench's report after all the work. Refused before any work instead."""

from __future__ import annotations

import os
from pathlib import PurePath
from typing import Any

from droptrack.errors import InputError


def _undecodable(value: Any) -> str | None:
    """`value` (a path, text, or a list of them) as it would be shown, where it holds bytes that are not UTF-8."""
    for v in value if isinstance(value, (list, tuple)) else (value,):
        text = str(v) if isinstance(v, (str, PurePath)) else None
        if text is not None and any("\udc80" <= c <= "\udcff" for c in text):
            return os.fsencode(text).decode("utf-8", "backslashreplace")
    return None


def check_utf8_args(kwargs: dict[str, Any]) -> None:
    """A one-line InputError naming the first argument whose bytes are not UTF-8, and how to rename it."""
    for value in kwargs.values():
        shown = _undecodable(value)
        if shown is not None:
            raise InputError(f"'{shown}' is not valid UTF-8: a name written under another encoding, which the model "
                             "runtimes and the reports cannot take; rename it to UTF-8 (e.g. convmv -f latin1 -t utf8 "
                             "--notest NAME) and pass the new name")
