"""The public stages (preprocess / infer / postprocess, search_templates) refuse crops that another set of targets
made, in one InputError before any state changes. Before: a target removed between preprocess and infer was a raw
IndexError from search_templates (each target's crop count, SCALE_GATE's per target, read from the last crops), and
a target removed and another added (the same number of crops) tracked the new target on the removed one's crops."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import InputError
from droptrack.runtime.build import build_tracker
from droptrack.runtime.sources import open_source

BOXES = [(60, 40, 40, 50), (100, 60, 30, 30), (20, 70, 30, 30)]
AGAIN = "preprocess the frame again after adding or removing targets"


@pytest.fixture(scope="module")
def clip(video) -> list[np.ndarray]:
    """The first 8 frames of the bundled carphone clip (176x144)."""
    with open_source(video) as src:
        return [f.image for f, _ in zip(src, range(8))]


def started(clip, pre: str, ext: dict | None):
    """A CPU tracker (host or device stages) on the default model, three targets tracked over frames 1-3."""
    t = build_tracker(None, None, "cpu", pre=pre, threads=1, ext=ext)
    t.initialize_many(clip[0], BOXES)
    for frame in clip[1:4]:
        t.track_many(frame)
    return t


@pytest.mark.parametrize("pre", ["host", "device"])
@pytest.mark.parametrize("ext", [None, {"SCALE_GATE": 0.42}, {"SCALE_SEARCH": None}], ids=["scale", "gate", "one"])
def test_a_target_removed_after_preprocess_is_refused_by_infer(clip, pre, ext):
    for index in (0, 2):
        t = started(clip, pre, ext)
        search, _ = t.preprocess(clip[4])
        t.remove_target(index)
        with pytest.raises(InputError, match=AGAIN):   # was an IndexError (scale search) or a shape BackendError
            t.infer(search)
        with pytest.raises(InputError, match=AGAIN):
            t.search_templates()
        search, factors = t.preprocess(clip[4])   # the new set's crops go through
        assert len(t.postprocess(t.infer(search), factors, clip[4].shape[:2])) == 2


@pytest.mark.parametrize("pre", ["host", "device"])
@pytest.mark.parametrize("ext, layout", [(None, [2, 2, 2]), ({"SCALE_GATE": 0.42}, [2, 1, 2]),
                                         ({"SCALE_SEARCH": None}, [1, 1, 1])], ids=["scale", "gate", "one"])
def test_a_target_swapped_for_another_after_preprocess_is_refused(clip, pre, ext, layout):
    """One target removed and one added: as many crops as before (each target's count alike), another set."""
    t = started(clip, pre, ext)
    search, factors = t.preprocess(clip[4])
    out = t.infer(search)
    assert t.extensions.counts == layout   # the gate: each target its own count
    t.remove_target(0)
    t.add_targets(clip[4], [BOXES[0]])
    assert sum(t.extensions.crop_counts()) == sum(layout)   # as many crops: only the set of targets differs
    before = t.snapshot()
    # was: target 1 tracked on target 0's crops, the new one on 1's and 2's
    with pytest.raises(InputError, match=AGAIN):
        t.postprocess(out, factors, clip[4].shape[:2])
    with pytest.raises(InputError, match=AGAIN):
        t.infer(search)
    assert t.snapshot() == before
    search, factors = t.preprocess(clip[4])
    assert len(t.postprocess(t.infer(search), factors, clip[4].shape[:2])) == 3
