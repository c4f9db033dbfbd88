"""Names for a run's tracker-extension overrides: its results folder's suffix and the words an error shows."""

from __future__ import annotations

from typing import Any


def _text(v: Any) -> str:
    """One override's value as a folder name or option reads it: 'off', '0.8,1.2', '0.5'."""
    return "off" if v is None else ",".join(f"{x:g}" for x in v) if isinstance(v, (list, tuple)) else (
        f"{v:g}" if isinstance(v, float) else str(v))


def ext_suffix(overrides: dict) -> str:
    """Results-folder suffix naming the overrides, e.g. '+crop_grid=0.1', '+official' ('' for none)."""
    from droptrack.runtime.extensions import KEYS, OFFICIAL

    switches = {KEYS[k][0] for k in OFFICIAL}
    official = switches <= overrides.keys()         # --official sets every switch (off, unless an option is given)
    rest = sorted((k, v) for k, v in overrides.items() if not (official and k in switches and v is None))
    return ("+official" if official else "") + "".join(f"+{k}={_text(v)}" for k, v in rest)


def override_words(overrides: dict | None) -> str:
    """The options a run's overrides came from, e.g. '--official --size-lr 0.5' (eval.json's record, in errors)."""
    if not overrides:
        return "the model's own tracker settings"
    if not isinstance(overrides, dict):   # an eval.json edited by hand: shown as it reads
        return repr(overrides)[:80]
    words = ext_suffix(overrides).lstrip("+").split("+")
    return " ".join("--" + w.replace("_", "-").replace("=", " ") for w in words)
