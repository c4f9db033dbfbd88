"""The warnings `dt run` and `dt serve` both give once their source delivered its first frame (one function, so the
two commands say the same): a video's non-square pixels and tracker-extension settings that work against the run."""

from __future__ import annotations

import warnings
from typing import Any

from droptrack.errors import ExtensionSettingsWarning
from droptrack.videofiles import PixelAspectWarning


def warn_at_start(source: Any, tracker: Any, lost_threshold: float) -> None:
    """The source's PixelAspectWarning (boxes from a player's picture need its factor), then one
    ExtensionSettingsWarning per `extension_notes` of the tracker's settings (its model's TEST keys with the options
    over them) and `lost_threshold`."""
    note = getattr(source, "aspect_note", None)
    if note:
        warnings.warn(note, PixelAspectWarning, stacklevel=3)
    for note in extension_notes(tracker.ext, getattr(tracker.extensions, "search_factor", None), lost_threshold):
        warnings.warn(note, ExtensionSettingsWarning, stacklevel=3)


def extension_notes(ext: Any, search_factor: float | None, lost_threshold: float) -> list[str]:
    """Warnings on tracker-extension settings (the model's TEST keys or the options) that work against the run: a
    template refresh threshold under --lost-threshold (a frame reported lost, scoring between the two, can crop its
    new template on what the box drifted to; the README asks for it at or above), and a re-acquisition search
    factor no wider than the model's own search factor (REACQ_FACTOR is the factor itself, not a multiple: 2 on a
    4x model searches half as wide while the target is lost)."""
    notes = []
    refresh = ext.template_refresh
    if refresh is not None and refresh < lost_threshold:
        notes.append(f"template refresh at {refresh:g} is below --lost-threshold {lost_threshold:g}: a frame "
                     f"reported lost with a score from {refresh:g} to {lost_threshold:g} can crop a new template on "
                     f"what the box has drifted to; pass --template-refresh {lost_threshold:g} or more, or a lower "
                     "--lost-threshold")
    wide = ext.reacq_factor
    if wide is not None and search_factor and wide <= search_factor:
        notes.append(f"--reacq-factor {wide:g} is the search factor of the re-acquisition crop, not a multiple, and "
                     f"this model already searches {search_factor:g}x the target (TEST.SEARCH_FACTOR): a lost target "
                     f"is searched for in a crop no wider than usual; pass more than {search_factor:g}, e.g. "
                     f"{2 * search_factor:g}")
    return notes
