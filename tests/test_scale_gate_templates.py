"""The template batch of a frame whose targets have different crop counts (SCALE_GATE): each target's template once
per crop, in order, as arrays and as tensors; and a tensor batch built without an index tensor made from host data
(a list index on a CUDA tensor is a blocking upload, a host sync per frame: the DeviceTracker has one, the boxes'
readback). Before: `templates[[0, 0, 1, 2, 2]]`, an index uploaded every frame scale search runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from droptrack.runtime.build import build_tracker
from droptrack.runtime.inputs import repeated_templates
from droptrack.runtime.sources import open_source

# ops that take an index tensor made from host data: on CUDA an upload from pageable memory, which syncs
FROM_HOST = {"aten.lift_fresh.default", "aten.index.Tensor", "aten._to_copy.default", "aten.index_select.default"}


class Ops(TorchDispatchMode):
    """Records the ATen ops dispatched inside its block."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("counts", [[2, 1, 2], [1, 1, 2], [2, 2, 2], [1, 1, 1], [3, 1]])
def test_each_target_s_template_once_per_crop(counts):
    rows = np.arange(len(counts) * 2 * 3, dtype=np.float32).reshape(len(counts), 2, 3)
    expected = np.concatenate([np.repeat(rows[i:i + 1], n, axis=0) for i, n in enumerate(counts)])
    assert np.array_equal(repeated_templates(rows, counts), expected)
    assert np.array_equal(repeated_templates(torch.from_numpy(rows), counts).numpy(), expected)


def test_a_mixed_gated_batch_takes_no_index_from_the_host(video):
    """The DeviceTracker with torch I/O (on CPU here; its templates are tensors), three targets gated to [2, 1, 2]
    crops: the right rows, and only views and one cat dispatched (no index tensor that CUDA uploads with a sync)."""
    with open_source(video) as src:
        clip = [f.image for f, _ in zip(src, range(5))]
    t = build_tracker(None, None, "cpu", pre="device", threads=1, ext={"SCALE_GATE": 0.42})
    t.initialize_many(clip[0], [(60, 40, 40, 50), (100, 60, 30, 30), (20, 70, 30, 30)])
    for frame in clip[1:4]:
        t.track_many(frame)
    t.preprocess(clip[4])
    assert t.extensions.counts == [2, 1, 2] and isinstance(t.templates, torch.Tensor)
    with Ops() as seen:
        batch = t.search_templates()
    assert [torch.equal(r, t.templates[i]) for r, i in zip(batch, [0, 0, 1, 2, 2])] == [True] * 5
    assert not FROM_HOST & set(seen.ops), seen.ops
