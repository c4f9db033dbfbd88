"""Tracker.snapshot / restore with TEMPLATE_REFRESH: the JSON snapshot does not hold the re-cropped templates, so a
snapshot taken after a refresh says so ("refreshes"), and restoring it without the templates saved with it is one
TrackerStateError naming the fix (it used to continue silently from the initial templates, boxes far apart); with
them it continues exactly. A re-initialised tracker's templates are fresh again, add_targets keeps the count."""

from __future__ import annotations

import json

import numpy as np
import pytest

from droptrack.errors import TrackerStateError
from droptrack.runtime.run import build_tracker
from helpers import drifting_square_clip

BOX = (60, 40, 30, 30)
EXT = {"TEMPLATE_REFRESH": 0.0, "TEMPLATE_REFRESH_EVERY": 1}   # a refresh on every frame


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    return drifting_square_clip(1)


def _copy(templates):
    return templates.clone() if hasattr(templates, "clone") else templates.copy()


@pytest.mark.parametrize("pre", ["host", "device"])
def test_a_snapshot_after_template_refreshes_needs_its_templates(tiny_ckpt, clip, pre):
    def tracker():
        t = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre, ext=EXT)
        t.initialize(clip[0], BOX)
        return t

    a = tracker()
    a.track(clip[1])
    snap, saved = json.loads(json.dumps(a.snapshot())), _copy(a.templates)
    assert snap["refreshes"] == a.template_version > 0
    want = a.track(clip[2])

    b = tracker()
    with pytest.raises(TrackerStateError) as err:
        b.restore(snap)
    assert "templates=a copy of tracker.templates" in str(err.value) and "\n" not in str(err.value)
    assert "refreshes" not in b.snapshot()    # refused before anything changed
    b.restore(snap, templates=saved)
    assert b.track(clip[2]) == want

    a.add_targets(clip[2], [BOX])              # the running target keeps its refreshed template
    assert a.snapshot()["refreshes"] == a.template_version > 0
    a.initialize(clip[2], BOX)                 # fresh templates: a snapshot restores without any
    assert "refreshes" not in a.snapshot()
