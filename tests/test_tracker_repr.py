"""repr(Tracker) names the model, backend, precision, procedure and state (it showed only a memory address)."""

from __future__ import annotations

import numpy as np

import droptrack as dt


def test_repr_names_model_procedure_and_state():
    t = dt.load_tracker(ext={"SCALE_SEARCH": None, "CROP_GRID": None, "ANCHOR_SCALE": None, "ANCHOR_NCC": None,
                             "ASPECT_PRIOR": None})
    assert repr(t) == "Tracker(droptrack_tiny_synth, onnxruntime fp32, rgb, official procedure, 0 target(s))"
    t.initialize(np.zeros((64, 96, 3), np.uint8) + np.arange(96, dtype=np.uint8)[None, :, None], (30, 20, 16, 12))
    assert "1 target(s)" in repr(t)
    t.close()
    assert repr(t).endswith(", closed)")
    shipped = dt.load_tracker(channels="BGR")
    assert ", bgr, official + scale search 0.8" in repr(shipped)
