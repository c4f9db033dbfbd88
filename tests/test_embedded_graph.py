"""The embedded model's shipped ONNX Runtime graph (droptrack/weights/droptrack_tiny_synth_ort.onnx): a run without a
model file takes it on the CPU (about 1.4x torch's speed on one thread, benchmarks/results/default_backend/), and it
must be the shipped checkpoint's network: same weights (its recorded sha256), same procedure (TEST keys), outputs
within float precision of PyTorch's on real crops, boxes of a real clip as torch tracks them. Where it cannot be
used (a --config over the weights, device pre-processing, no onnxruntime, a graph of other weights) torch runs the
checkpoint as before."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from droptrack.artifact import sha256_file
from droptrack.geometry import box_iou
from droptrack.model.default import default_checkpoint, embedded_ort_file
from droptrack.runtime.backends import embedded_graph_file, open_embedded_graph
from droptrack.runtime.build import build_tracker, needs_torch
from droptrack.runtime.sources import open_source
from droptrack.runtime.tracker import load_tracker

CARPHONE_INIT = (60.0, 30.0, 60.0, 80.0)   # the man's head in carphone_pristine.mp4's first frame (176x144)


def test_the_shipped_graph_records_the_shipped_checkpoint_and_its_procedure():
    from droptrack.model.checkpoint import tracking_meta

    graph = embedded_ort_file()
    assert graph is not None, "droptrack/weights/droptrack_tiny_synth_ort.onnx is missing: " \
                              "python benchmarks/ship_default_model.py --graph"
    backend = load_tracker(threads=1).backend
    try:
        assert backend.name == "onnxruntime"
        assert backend.meta.checkpoint_sha256 == sha256_file(default_checkpoint())
        own = tracking_meta(default_checkpoint(), None)
        assert backend.meta.tracker == own.tracker   # the scale search, anchor, aspect prior: the checkpoint's keys
        assert (backend.meta.template_size, backend.meta.search_size) == (own.template_size, own.search_size)
    finally:
        backend.close()


def test_its_outputs_are_pytorchs_on_real_crops(one_thread):
    """Template and search crops of a real photo through the graph and through the checkpoint's network."""
    from skimage import data

    img = data.astronaut().astype(np.float32) / 255.0   # 512x512 RGB
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)

    def crop(y: int, x: int, side: int, out: int) -> np.ndarray:
        import cv2

        patch = cv2.resize(img[y:y + side, x:x + side], (out, out), interpolation=cv2.INTER_LINEAR)
        return ((patch - mean) / std).transpose(2, 0, 1)

    z = np.stack([crop(150, 160, 160, 80), crop(150, 160, 160, 80)])   # her face, twice
    x = np.stack([crop(80, 90, 300, 160), crop(100, 110, 240, 160)])   # two search crops around it
    backend, torch_backend = load_tracker(threads=1).backend, load_tracker(default_checkpoint()).backend
    try:
        got = backend.infer(z, x)
        ref = torch_backend.infer(torch.from_numpy(z), torch.from_numpy(x))
    finally:
        backend.close()
    assert torch_backend.name == "torch"
    for name in ("score_map", "size_map", "offset_map"):
        want = np.asarray(ref[name].detach().cpu() if hasattr(ref[name], "detach") else ref[name])
        assert got[name].shape == want.shape
        assert np.abs(got[name] - want).max() < 1e-4, name   # dt export's FP32 parity gate is 1e-4


def test_the_default_tracker_runs_it_and_tracks_a_real_clip_as_torch_does(video):
    with open_source(video) as src:
        clip = [f.image for f, _ in zip(src, range(60))]
    fast, slow = load_tracker(threads=1), load_tracker(default_checkpoint())
    assert (fast.backend.name, slow.backend.name) == ("onnxruntime", "torch")
    for t in (fast, slow):
        t.initialize(clip[0], CARPHONE_INIT)
    for frame in clip[1:]:
        a, b = fast.track(frame)[0], slow.track(frame)[0]
        assert box_iou(np.array(a), np.array(b)) > 0.99, (a, b)
    fast.backend.close()


def test_a_run_on_it_does_not_load_torch(video):
    code = ("import sys\nfrom droptrack import load_tracker\nfrom droptrack.runtime.sources import open_source\n"
            f"t = load_tracker(threads=1)\nsrc = open_source({str(video)!r})\nit = iter(src)\n"
            f"t.initialize(next(it).image, {CARPHONE_INIT})\nt.track(next(it).image)\n"
            "print(t.backend.name, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["onnxruntime", "False"]


def test_torch_runs_the_checkpoint_where_the_graph_does_not_apply(monkeypatch):
    assert embedded_graph_file(None, "cpu") is not None and not needs_torch(None, "cpu")
    # a --config over the embedded weights, the GPU, device pre-processing: the checkpoint in torch
    name = "droptrack_tiny_synth"
    assert embedded_graph_file(name, "cpu") is None and needs_torch(None, "cpu", name)
    assert embedded_graph_file(None, "cuda") is None and needs_torch(None, "cuda")
    assert embedded_graph_file(None, "cpu", pre="device") is None and needs_torch(None, "cpu", pre="device")
    assert load_tracker(config="droptrack_tiny_synth").backend.name == "torch"
    tracker = build_tracker(None, None, "cpu", pre="device")
    assert tracker.backend.name == "torch"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # as on a machine without ONNX Runtime
    assert embedded_graph_file(None, "cpu") is None and needs_torch(None, "cpu")
    assert load_tracker().backend.name == "torch"


def test_a_graph_of_other_weights_is_not_taken(onnx_model):
    """The shipped name over another checkpoint's export (a replaced checkpoint, a stale graph): not run."""
    assert open_embedded_graph(onnx_model, threads=1) is None


@pytest.mark.parametrize("bad", [b"", b"not an onnx graph"])
def test_a_damaged_graph_is_not_taken(tmp_path, bad):
    path = tmp_path / "droptrack_tiny_synth_ort.onnx"
    path.write_bytes(bad)
    assert open_embedded_graph(path, threads=1) is None


@pytest.mark.parametrize("option", ["--official", "--scale-search off"])
def test_a_run_that_sends_one_crop_gets_no_note_about_a_graph_it_never_named(video, tmp_path, option):
    """The shipped graph takes the scale search's 2 crops in one call; a run of 1 crop pads it (about PyTorch's
    speed, measured in benchmarks/results/default_backend/): the padded-batch note's fixes (model.onnx, another
    export) name files this user never made, so it is not given; the boxes are still tracked."""
    from helpers import cli

    res = cli("run", video, "--init", ",".join(f"{v:g}" for v in CARPHONE_INIT), *option.split(), "--max-frames", 4,
              "--output", tmp_path / "boxes.txt")
    assert res.exit_code == 0, res.output
    assert "crops a call" not in res.output
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 4


RUN_AND_COUNT = """
import sys
from droptrack.runtime.run import RunOptions, run
seen = set()
def on_frame(summary):
    seen.add(sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None)
run(RunOptions(source=sys.argv[1], init=[sys.argv[2]], max_frames=3, threads=2), on_frame=on_frame)
print(sorted(seen, key=str))
"""


def test_a_run_whose_shipped_graph_is_damaged_runs_torch_on_its_threads(tmp_path, video):
    """A truncated shipped graph (a broken install): dt run --threads 2 falls back to the checkpoint in torch, whose
    count its start-up left alone, planned torch-free: torch tracked on its own default (1 here, from
    OMP_NUM_THREADS; every core on a machine without it) instead of the 2 threads asked for and journaled."""
    import os
    import shutil
    from pathlib import Path

    import droptrack
    from droptrack.model.default import DEFAULT_ORT

    pkg = tmp_path / "droptrack"   # the package, its files linked, with a graph cut short
    shutil.copytree(Path(droptrack.__file__).parent, pkg, copy_function=os.symlink,
                    ignore=shutil.ignore_patterns("__pycache__"))
    graph = pkg / "weights" / DEFAULT_ORT
    head = graph.read_bytes()[:100_000]
    graph.unlink()
    graph.write_bytes(head)
    init = ",".join(f"{v:g}" for v in CARPHONE_INIT)
    out = subprocess.run([sys.executable, "-c", RUN_AND_COUNT, str(video), init], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "[2]", out.stdout + out.stderr


def test_dt_doctor_says_what_a_run_without_a_model_file_runs(monkeypatch):
    from helpers import cli

    res = cli("doctor")
    line = next((ln for ln in res.output.splitlines() if "without a model file" in ln), "")
    assert "runs the embedded model in ONNX Runtime on cpu (droptrack_tiny_synth_ort.onnx" in line, res.output
    from droptrack.runtime.build import embedded_runs_on

    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # as on a machine without ONNX Runtime
    assert embedded_runs_on("cpu") == "PyTorch on cpu (its checkpoint; onnxruntime is not installed)"
