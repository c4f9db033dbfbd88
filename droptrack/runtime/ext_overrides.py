"""Command-line / API overrides of a model's tracker-extension keys, checked against what they depend on."""

from __future__ import annotations

from droptrack.errors import ConfigError, InputError
from droptrack.runtime.extensions import KEYS, TrackerExt, check_keys

# a setting key -> the switch key without which it does nothing
DEPENDS_ON: dict[str, str] = {"ASPECT_PENALTY": "SIZE_LR", "REACQ_THRESHOLD": "REACQ_FACTOR",
                              "REACQ_FRAMES": "REACQ_FACTOR", "REACQ_RECOVER": "REACQ_FACTOR",
                              "REACQ_CENTER": "REACQ_FACTOR", "TEMPLATE_REFRESH_EVERY": "TEMPLATE_REFRESH",
                              "SCALE_PENALTY": "SCALE_SEARCH", "SCALE_FUSE": "SCALE_SEARCH",
                              "SCALE_GATE": "SCALE_SEARCH", "GRID_WINDOW": "CROP_GRID"}


def merge_overrides(base: dict, overrides: dict | None, api: bool = False) -> TrackerExt:
    """Artifact keys updated by command-line overrides (checked with the option names; `api`: the Python API's `ext`
    dict, its errors naming its keys and, as the API's other bad arguments, an InputError (a ValueError)); an
    override of a setting whose extension ends up off (neither the artifact nor the overrides turn it on) is
    refused: it would do nothing."""
    try:
        return _merged(base, overrides, api)
    except ConfigError as exc:
        if api and overrides:
            raise InputError(str(exc)) from None
        raise


def _merged(base: dict, overrides: dict | None, api: bool) -> TrackerExt:
    """merge_overrides' work; its errors are ConfigErrors."""
    check_keys(overrides or {}, option_names=not api, prefix="ext ")
    ext = TrackerExt.from_keys({**(base or {}), **(overrides or {})})
    for key in overrides or {}:
        switch = DEPENDS_ON.get(key)
        if switch is not None and getattr(ext, switch.lower()) is None:
            off = (overrides or {}).get(switch, 0) is None
            if api:
                why = f"ext sets {switch} to None" if off else f"this model's TEST.{switch} is off"
                raise ConfigError(f"ext {key} does nothing without {switch} ({why}); add {switch} to ext or drop {key}")
            opt, on = KEYS[key][1], KEYS[switch][1]
            why = "the options turn it off (--official or 'off')" if off else f"this model's TEST.{switch} is off"
            raise ConfigError(f"{opt} does nothing without {on} ({why}); add {on} or drop {opt}")
    return ext

