"""The Hann window is the official torch hann2d bit for bit, computed with NumPy only, so the ONNX Runtime path
runs (and gives the same boxes) where torch is not installed or not imported.

References: the official window's float32 bit patterns for the 256 (F = 16) and 384 (F = 24) models as PyTorch
computes them; the official tracker's windowed score-map argmax and top-2 margin on the reference sequence; and,
where torch is installed, the official expression itself for every size up to 80."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from droptrack.geometry import hann2d

REF = Path(__file__).parent / "data" / "official_ostrack256ce"
OFFICIAL_1D = {   # float32 bits of 0.5 * (1 - torch.cos((2 * math.pi / (F + 1)) * torch.arange(1, F + 1).float()))
    16: "3d0a4c00 3e05a0a0 3e8de418 3ee8611a 3f230763 3f4d2322 3f6cd3ea 3f7dd210 3f7dd210 3f6cd3ea 3f4d2322 "
        "3f230763 3ee8611d 3e8de417 3e05a0a6 3d0a4c00",
    24: "3c80aef0 3d7d52f0 3e0ac4a2 3e6da81e 3eb0e444 3eefecf8 3f17fc1d 3f367ff0 3f51971e 3f678dde 3f7702eb "
        "3f7efd9e 3f7efd9d 3f7702ea 3f678dde 3f51971a 3f367fed 3f17fc19 3eefecf5 3eb0e441 3e6da816 3e0ac498 "
        "3d7d52d0 3c80aed0",
}


def official_2d(size: int) -> np.ndarray:
    """The recorded official 1-D window's outer product in float32 (as torch's hann2d multiplies)."""
    w = np.array([int(h, 16) for h in OFFICIAL_1D[size].split()], dtype=np.uint32).view(np.float32)
    return w.reshape(1, 1, -1, 1) * w.reshape(1, 1, 1, -1)


@pytest.mark.parametrize("size", sorted(OFFICIAL_1D))
def test_the_window_is_the_recorded_official_one_bit_for_bit(size):
    got = hann2d(size)
    assert got.dtype == np.float32 and got.shape == (1, 1, size, size)
    assert got.tobytes() == official_2d(size).tobytes()


def test_the_window_ranks_the_official_trackers_score_maps_as_it_did():
    diag = np.load(REF / "track_ostrack256ce_diag.npz")
    window = hann2d(16)[0, 0]
    for i, score in enumerate(diag["score_map"]):
        resp = (window * score).ravel()
        top = np.sort(resp)[::-1]
        assert resp.argmax() == diag["resp_argmax"][i], i
        assert np.float32(top[0] - top[1]) == diag["resp_top2_margin"][i], i


def test_the_window_is_torchs_official_hann2d_for_every_size():
    torch = pytest.importorskip("torch")
    for size in range(1, 81):
        k = torch.arange(1, size + 1).float()
        w = 0.5 * (1 - torch.cos((2 * math.pi / (size + 1)) * k))
        official = (w.reshape(1, 1, -1, 1) * w.reshape(1, 1, 1, -1)).numpy()
        assert hann2d(size).tobytes() == official.tobytes(), size


def without_torch(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a Python where `import torch` fails (as on an install without it); its stdout is JSON."""
    prelude = "import sys\nsys.modules['torch'] = None\n"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1])] + sys.path))
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_the_window_needs_no_torch():
    r = without_torch("import json\nfrom droptrack.geometry import hann2d\n"
                      "print(json.dumps({f: hann2d(f).tobytes().hex() for f in (16, 24)}))")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    for size in (16, 24):
        assert bytes.fromhex(got[str(size)]) == official_2d(size).tobytes()


def test_an_onnx_runtime_tracker_runs_without_torch_with_the_same_boxes(onnx_model):
    pytest.importorskip("onnxruntime")
    code = f"""
import json
import numpy as np
from droptrack import load_tracker
from droptrack.engine.threads import apply_threads, restore_threads
rng = np.random.default_rng(1)
frames = [rng.integers(0, 60, (120, 160, 3), dtype=np.uint8) for _ in range(3)]
for k, f in enumerate(frames):
    f[40 + 2 * k: 70 + 2 * k, 60 + 3 * k: 90 + 3 * k] = 200
old = apply_threads(1)
with load_tracker({str(onnx_model)!r}) as t:
    t.initialize(frames[0], (60, 40, 30, 30))
    out = [t.track(f) for f in frames[1:]]
restore_threads(old)
print(json.dumps(out))
"""
    r = without_torch(code)
    assert r.returncode == 0, r.stderr
    bare = json.loads(r.stdout)
    with_torch = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1])]
                                                                                + sys.path)))
    assert with_torch.returncode == 0, with_torch.stderr
    assert bare == json.loads(with_torch.stdout) and len(bare) == 2
