"""`load_tracker(threads=n)` sets ONNX Runtime's per-session threads; a torch checkpoint (the embedded default model
included) does not take them. Before, `load_tracker(threads=1)` on one did nothing without a word, so a caller's CPU
limit was silently not applied; now a warning at the caller's line names the fix (torch's process-wide count)."""

from __future__ import annotations

import warnings

import pytest

from droptrack import load_tracker


def test_threads_on_a_torch_model_warn_with_the_fix(tiny_ckpt):
    import torch

    n = torch.get_num_threads() + 1                     # a count torch does not run on
    with pytest.warns(UserWarning, match=rf"threads={n} sets ONNX Runtime's threads; this torch model does not take "
                      rf"them: call torch\.set_num_threads\({n}\) \(process-wide\)") as w:
        tracker = load_tracker(str(tiny_ckpt), threads=n)
    assert w[0].filename == __file__
    assert tracker.backend.name == "torch"


def test_default_threads_and_onnx_models_give_no_warning(tiny_ckpt, onnx_model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_tracker(str(tiny_ckpt)).backend.name == "torch"
        assert load_tracker(str(onnx_model), threads=1).backend.name == "onnxruntime"


def test_no_warning_where_torch_already_runs_on_that_many_threads(tiny_ckpt):
    """The benchmarks' way: torch.set_num_threads(n) first, then load_tracker(model, threads=n) for any model."""
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3 if before != 3 else 2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            load_tracker(str(tiny_ckpt), threads=torch.get_num_threads())
    finally:
        torch.set_num_threads(before)
