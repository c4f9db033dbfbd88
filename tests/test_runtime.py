"""Runtime: the device tracker vs the host tracker, sources, `dt run` end to end, sinks, bad input, ONNX Runtime.
Device pre/post vs the numpy reference: test_runtime_device_ops.py."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.engine.torch_backend import TorchBackend
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.runtime.sources import CaptureSource, FolderSource, gstreamer_available, open_source
from droptrack.runtime.tracker import Tracker
from helpers import needs_cuda

runner = CliRunner()

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, video, frames, one_thread: conftest.py


@pytest.fixture(scope="module")
def folder(tmp_path_factory, frames) -> Path:
    d = tmp_path_factory.mktemp("frames")
    for i, f in enumerate(frames, start=1):   # img1..img12: numeric order differs from lexical order
        cv2.imwrite(str(d / f"img{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return d


def cli(*args) -> object:
    return runner.invoke(app, ["run", *map(str, args)])


def read_boxes(path: Path) -> list[list[int]]:
    return [[int(v) for v in line.split("\t")] for line in path.read_text().splitlines()]


def iou(a, b) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_device_tracker_on_cpu_matches_host_tracker(tiny_ckpt, frames):
    backend = TorchBackend.from_checkpoint(tiny_ckpt)
    inits = [[60.0, 40.0, 40.0, 50.0], [100.0, 60.0, 30.0, 30.0]]
    host, dev = Tracker(backend), DeviceTracker(backend, device="cpu")
    host.initialize_many(frames[0], inits)
    dev.initialize_many(frames[0], inits)
    # the device crop gives the host crop's bytes (tests/test_device_crop_matches_opencv.py): the same boxes
    assert np.array_equal(dev.templates.numpy(), host.templates)
    for f in frames[1:6]:
        for a, b in zip(host.track_many(f), dev.track_many(f)):
            assert list(a.box) == list(b.box) and a.score == b.score


# ---------------------------------------------------------------- sources

def test_folder_source_sorts_numerically_and_yields_rgb(folder, frames):
    src = FolderSource(folder)
    assert [p.name for p in src.files[:3]] == ["img1.png", "img2.png", "img3.png"]
    got = list(src)
    assert len(got) == 12 and got[1].index == 1 and got[1].timestamp == pytest.approx(1 / 30)
    assert np.array_equal(got[5].image, frames[5])


def test_video_source_rgb_with_media_timestamps(video):
    with open_source(video) as src:
        got = [f for f, _ in zip(src, range(3))]
    assert got[0].image.shape == (144, 176, 3) and got[0].image.dtype == np.uint8
    assert got[0].timestamp < got[1].timestamp < got[2].timestamp
    bgr = cv2.VideoCapture(str(video)).read()[1]
    assert np.array_equal(got[0].image, bgr[:, :, ::-1])


class FakeCapture:
    """cv2.VideoCapture stand-in: `n` frames, then read() fails."""

    def __init__(self, n: int):
        self.n, self.i = n, 0

    def read(self):
        self.i += 1
        return (True, np.zeros((8, 8, 3), np.uint8)) if self.i <= self.n else (False, None)

    def get(self, prop):
        return 0.0

    def release(self):
        pass


def test_live_source_that_stops_delivering_raises(monkeypatch):
    from droptrack.errors import SourceError
    from droptrack.runtime import capture

    monkeypatch.setattr(capture.time, "sleep", lambda s: None)
    with pytest.raises(SourceError, match="camera 3 stopped delivering frames after 4 frames"):
        list(CaptureSource(FakeCapture(4), "camera 3", live=True))
    with pytest.raises(SourceError, match="delivered no frame"):
        list(CaptureSource(FakeCapture(0), "camera 3", live=True))
    assert len(list(CaptureSource(FakeCapture(4), "video x", live=False))) == 4   # end of file: no error


# ---------------------------------------------------------------- dt run end to end

def test_run_video_writes_video_jsonl_and_boxes(tiny_ckpt, video, tmp_path):
    out, js, boxes = tmp_path / "out.mp4", tmp_path / "run.jsonl", tmp_path / "boxes.txt"
    r = cli(video, "--model", tiny_ckpt, "--init", "60.7,40.2,40,50", "--max-frames", 15, "--device", "cpu",
            "--save", out, "--jsonl", js, "--output", boxes)
    assert r.exit_code == 0, r.output
    assert "p99" in r.output and "capture" in r.output
    cap = cv2.VideoCapture(str(out))
    n = 0
    while cap.read()[0]:
        n += 1
    assert cap.isOpened() and n == 15 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 176
    lines = read_boxes(boxes)
    assert len(lines) == 15 and lines[0] == [60, 40, 40, 50]
    recs = [json.loads(line) for line in js.read_text().splitlines()]
    assert [r["frame"] for r in recs] == list(range(15))
    assert all(len(r["boxes"]) == len(r["scores"]) == len(r["lost"]) == 1 for r in recs)
    assert recs[0]["scores"] == [None] and isinstance(recs[3]["scores"][0], float)
    assert [[int(v) for v in r["boxes"][0]] for r in recs] == lines


def test_run_image_folder_with_device_preprocessing(tiny_ckpt, folder, tmp_path):
    boxes, js = tmp_path / "b.txt", tmp_path / "b.jsonl"
    r = cli(folder, "-m", tiny_ckpt, "--init", "60,40,40,50", "--device", "cpu", "--pre", "device",
            "--output", boxes, "--jsonl", js, "--lost-threshold", "0.99")
    assert r.exit_code == 0, r.output
    lines = read_boxes(boxes)
    recs = [json.loads(line) for line in js.read_text().splitlines()]
    assert len(lines) == len(recs) == 12
    # a lost target keeps its (tracker) box in every output
    assert [rec["lost"] for rec in recs] == [[False]] + [[True]] * 11
    assert [[int(v) for v in rec["boxes"][0]] for rec in recs] == lines
    assert "11 frames with a lost target" in r.output


def test_two_targets_equal_two_single_runs(tiny_ckpt, folder, tmp_path):
    inits = ["60,40,40,50", "100,60,30,30"]
    r = cli(folder, "-m", tiny_ckpt, "--init", inits[0], "--init", inits[1], "--device", "cpu",
            "--output", tmp_path / "both.txt", "--max-frames", 8)
    assert r.exit_code == 0, r.output
    # the summary names the files written (it said 'boxes: both.txt', a file that does not exist)
    assert f"boxes: {tmp_path / 'both_0.txt'}, {tmp_path / 'both_1.txt'}" in " ".join(r.output.split())
    assert not (tmp_path / "both.txt").exists()
    for k, init in enumerate(inits):
        single = tmp_path / f"single{k}.txt"
        assert cli(folder, "-m", tiny_ckpt, "--init", init, "--device", "cpu", "--output", single,
                   "--max-frames", 8).exit_code == 0
        assert read_boxes(tmp_path / f"both_{k}.txt") == read_boxes(single)


def test_interrupted_run_leaves_valid_outputs(tiny_ckpt, video, tmp_path, monkeypatch):
    from droptrack.runtime import run as run_mod

    real = run_mod.sources.open_source

    class Interrupting:
        def __init__(self, src, k):
            self.src, self.k, self.fps, self.num_frames, self.name = src, k, src.fps, src.num_frames, src.name

        def __iter__(self):
            for f in self.src:
                if f.index == self.k:
                    raise KeyboardInterrupt
                yield f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.src.close()

    monkeypatch.setattr(run_mod.sources, "open_source", lambda *a, **kw: Interrupting(real(*a, **kw), 6))
    out, js, boxes = tmp_path / "o.mp4", tmp_path / "o.jsonl", tmp_path / "o.txt"
    r = cli(video, "-m", tiny_ckpt, "--init", "60,40,40,50", "--device", "cpu", "--save", out, "--jsonl", js,
            "--output", boxes)
    assert r.exit_code == 130
    assert "SIGINT: stopped after 6 frames" in r.output
    assert len(read_boxes(boxes)) == 6
    assert [json.loads(line)["frame"] for line in js.read_text().splitlines()] == list(range(6))
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 6


# ---------------------------------------------------------------- bad input: one line, exit 2

def bad_cases(tmp: Path, video: Path, ckpt: Path) -> dict[str, list]:
    (tmp / "empty").mkdir(exist_ok=True)
    (tmp / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    (tmp / "model.txt").write_text("hello")
    ok = ["-m", ckpt, "--device", "cpu"]
    return {
        "missing camera": ["camera7", *ok, "--init", "1,1,5,5"],
        "unreadable video": [tmp / "broken.mp4", *ok, "--init", "1,1,5,5"],
        "empty folder": [tmp / "empty", *ok, "--init", "1,1,5,5"],
        "missing file": [tmp / "nope.mp4", *ok, "--init", "1,1,5,5"],
        "box outside": [video, *ok, "--init", "500,500,20,20"],
        "zero-sized box": [video, *ok, "--init", "10,10,0,20"],
        "negative box": [video, *ok, "--init", "10,10,-5,20"],
        "NaN box": [video, *ok, "--init", "nan,10,20,20"],
        "three numbers": [video, *ok, "--init", "10,10,20"],
        "wrong artifact kind": [video, "-m", tmp / "model.txt", "--init", "10,10,20,20"],
        "missing artifact": [video, "-m", tmp / "no.pt", "--init", "10,10,20,20"],
        "no init headless": [video, *ok],
        "show headless": [video, *ok, "--init", "10,10,20,20", "--show"],
        "bad device": [video, "-m", ckpt, "--device", "tpu", "--init", "10,10,20,20"],
        "bad save suffix": [video, *ok, "--init", "10,10,20,20", "--save", tmp / "x.gif"],
        "pipeline without GStreamer": ["videotestsrc ! appsink", *ok, "--init", "1,1,5,5"],
        "unreachable stream": ["rtsp://127.0.0.1:9/none", *ok, "--init", "1,1,5,5"],
    }


def test_bad_inputs_are_one_line_exit_2(tiny_ckpt, video, tmp_path, monkeypatch):
    from droptrack.runtime import run as run_mod

    monkeypatch.setattr(run_mod, "display_problem", lambda: "DISPLAY is not set (headless machine)")
    cases = bad_cases(tmp_path, video, tiny_ckpt)
    if gstreamer_available():
        cases.pop("pipeline without GStreamer")
    for name, args in cases.items():
        r = cli(*args)
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert r.exit_code == 2, (name, r.output)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, r.output)
        assert "Traceback" not in r.output
    assert not any((tmp_path / n).exists() for n in ("x.gif",))


# ---------------------------------------------------------------- other backends

@pytest.fixture(scope="module")
def onnx_model(tiny_ckpt, tmp_path_factory) -> Path:
    """The tiny checkpoint exported once with `dt export`'s library function (skips until export/ORT exist)."""
    pytest.importorskip("droptrack.engine.onnxruntime_backend")
    pytest.importorskip("droptrack.export.onnx")
    pipeline = pytest.importorskip("droptrack.export.pipeline")
    result = pipeline.export_onnx(tiny_ckpt, output_dir=tmp_path_factory.mktemp("export"))
    assert result.status == "ok", result
    return result.path


def test_torch_and_onnxruntime_backends_agree(tiny_ckpt, onnx_model, frames):
    from droptrack.engine.onnxruntime_backend import OrtBackend

    init = [60.0, 40.0, 40.0, 50.0]
    a = Tracker(TorchBackend.from_checkpoint(tiny_ckpt))
    b = Tracker(OrtBackend(onnx_model, device="cpu"))
    a.initialize(frames[0], init)
    b.initialize(frames[0], init)
    for f in frames[1:]:
        assert iou(a.track(f)[0], b.track(f)[0]) >= 0.99


def test_run_cli_with_onnx_model(tiny_ckpt, onnx_model, folder, tmp_path):
    torch_out, ort_out = tmp_path / "t.txt", tmp_path / "o.txt"
    for model, out in ((tiny_ckpt, torch_out), (onnx_model, ort_out)):
        r = cli(folder, "-m", model, "--init", "60,40,40,50", "--device", "cpu", "--output", out)
        assert r.exit_code == 0, r.output
    a, b = read_boxes(torch_out), read_boxes(ort_out)
    assert len(a) == len(b) == 12
    assert all(iou(p, q) >= 0.95 for p, q in zip(a, b))   # int-truncated boxes


def test_onnx_session_gets_the_planned_threads(onnx_model):
    from droptrack.runtime.run import build_tracker

    for n in (1, 2):
        backend = build_tracker(str(onnx_model), None, "cpu", "host", threads=n).backend
        assert backend.session.get_session_options().intra_op_num_threads == n


@pytest.mark.gpu
@needs_cuda
def test_device_tracker_cuda_matches_cpu(tiny_ckpt, frames):
    inits = [[60.0, 40.0, 40.0, 50.0], [100.0, 60.0, 30.0, 30.0]]
    cpu = DeviceTracker(TorchBackend.from_checkpoint(tiny_ckpt, device="cpu"), device="cpu")
    gpu = DeviceTracker(TorchBackend.from_checkpoint(tiny_ckpt, device="cuda"), device="cuda")
    cpu.initialize_many(frames[0], inits)
    gpu.initialize_many(frames[0], inits)
    assert gpu.templates.is_cuda
    for f in frames[1:]:
        search, _ = gpu.preprocess(f)
        assert search.is_cuda and gpu._uploader.pinned
        for a, b in zip(cpu.track_many(f), gpu.track_many(f)):
            assert iou(a.box, b.box) > 0.95


@pytest.mark.gpu
@needs_cuda
def test_run_cli_cuda(tiny_ckpt, video, tmp_path):
    r = cli(video, "-m", tiny_ckpt, "--init", "60,40,40,50", "--device", "cuda", "--max-frames", 10,
            "--output", tmp_path / "b.txt")
    assert r.exit_code == 0, r.output
    assert len(read_boxes(tmp_path / "b.txt")) == 10
