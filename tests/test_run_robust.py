"""`dt run` for weeks: signals, kill -9, constant memory, mixed frame sizes, non-finite outputs, safe model files."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import types
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data.media import bundled_video
from droptrack.errors import BackendError
from droptrack.runtime.latency import LatencyStats
from droptrack.runtime.loop import track_frames
from droptrack.runtime.sinks import JsonlSink, TargetState
from droptrack.runtime.sources import Frame

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def start_run(ckpt: Path, out: Path, sighup=signal.SIG_DFL) -> subprocess.Popen:
    """`dt run` on a looped real video with all three file outputs, in its own process; `sighup`: the SIGHUP
    disposition it inherits (default, whatever the test runner's is: pytest itself may run under nohup)."""
    video = bundled_video("carphone_pristine.mp4")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "droptrack", "run", str(video), "--loop", "-m", str(ckpt), "--device", "cpu",
           "--init", "60,40,40,50", "--output", str(out / "b.txt"), "--jsonl", str(out / "b.jsonl"),
           "--save", str(out / "v.mp4")]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, sighup))


def wait_for_lines(proc: subprocess.Popen, part: Path, n: int, timeout: float = 180.0) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if part.exists() and part.read_bytes().count(b"\n") >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"dt run did not reach {n} frames in {timeout} s")


def video_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_sighup_finish_frame_and_close_outputs(tiny_ckpt, tmp_path, sig, code):
    proc = start_run(tiny_ckpt, tmp_path)
    wait_for_lines(proc, tmp_path / "b.txt.part", 5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"{signal.Signals(sig).name}: stopped after" in err and "Traceback" not in err
    boxes = (tmp_path / "b.txt").read_text().splitlines()
    records = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert len(boxes) >= 5 and len(records) == len(boxes)
    assert [r["frame"] for r in records] == list(range(len(boxes)))
    assert all(len(line.split("\t")) == 4 for line in boxes)
    assert video_frames(tmp_path / "v.mp4") == len(boxes)   # closed properly: OpenCV reads every frame
    assert not list(tmp_path.glob("*.part"))


def test_nohup_dt_run_outlives_its_terminal(tiny_ckpt, tmp_path):
    """Under `nohup` (SIGHUP ignored) a closed terminal does not stop the run; SIGTERM still does, cleanly."""
    proc = start_run(tiny_ckpt, tmp_path, sighup=signal.SIG_IGN)
    wait_for_lines(proc, tmp_path / "b.txt.part", 5)
    proc.send_signal(signal.SIGHUP)
    seen = (tmp_path / "b.txt.part").read_bytes().count(b"\n")
    wait_for_lines(proc, tmp_path / "b.txt.part", seen + 10)   # still tracking (asserts the process is alive)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "SIGHUP" not in err, err
    assert not list(tmp_path.glob("*.part"))


def test_kill_9_loses_at_most_the_frame_in_flight(tiny_ckpt, tmp_path):
    proc = start_run(tiny_ckpt, tmp_path)
    wait_for_lines(proc, tmp_path / "b.txt.part", 5)
    seen = (tmp_path / "b.txt.part").read_bytes().count(b"\n")
    proc.kill()
    proc.communicate(timeout=60)
    boxes = (tmp_path / "b.txt.part").read_text()
    jsonl = (tmp_path / "b.jsonl.part").read_text()
    assert boxes.endswith("\n") and jsonl.endswith("\n")           # only whole lines reach the file
    n_boxes, records = len(boxes.splitlines()), [json.loads(x) for x in jsonl.splitlines()]
    assert n_boxes >= seen and abs(len(records) - n_boxes) <= 1
    assert [r["frame"] for r in records] == list(range(len(records)))
    again = runner.invoke(app, ["run", str(bundled_video("carphone_pristine.mp4")), "-m", str(tiny_ckpt), "--device",
                                "cpu", "--init", "60,40,40,50", "--output", str(tmp_path / "b.txt"), "--max-frames", "3"])
    lines = [ln for ln in again.output.splitlines() if ln.strip()]   # the next run never truncates them
    assert again.exit_code == 2 and len(lines) == 1 and "killed before it finished" in lines[0], again.output
    assert (tmp_path / "b.txt.part").read_text() == boxes and not (tmp_path / "b.txt").exists()


def test_mixed_frame_sizes_are_letterboxed_into_the_video(tiny_ckpt, tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "frames"
    folder.mkdir()
    sizes = [(120, 160), (120, 160), (90, 200), (150, 100), (120, 160)]
    for i, (h, w) in enumerate(sizes):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "40,30,40,40",
                            "--save", str(tmp_path / "v.avi"), "--output", str(tmp_path / "b.txt")])
    assert r.exit_code == 0, r.output
    assert "2 frames of another size" in r.output
    assert video_frames(tmp_path / "v.avi") == len(sizes)
    assert len((tmp_path / "b.txt").read_text().splitlines()) == len(sizes)


def test_latency_percentiles_from_fixed_size_histogram():
    rng = np.random.default_rng(1)
    times = rng.lognormal(mean=2.0, sigma=0.8, size=20_000)
    st = LatencyStats()
    size = st.bins.nbytes
    for t in times:
        st.add(float(t))
    assert st.bins.nbytes == size and st.count == times.size
    assert st.mean == pytest.approx(times.mean(), rel=1e-9)
    for q in (50, 90, 99):
        exact = np.percentile(times, q, method="inverted_cdf")
        assert st.percentile(q) == pytest.approx(exact, rel=0.006)   # half a 1.16 % bin
    assert st.percentile(100) == times.max() and math.isnan(LatencyStats().percentile(99))


class FakeTracker:
    """Tracker interface over fixed outputs: exercises the loop (timing, sinks) without a model."""

    def __init__(self, score: float = 0.9):
        self.score = score
        self.states: list = []
        self.templates = None
        self.backend = types.SimpleNamespace(infer=lambda z, x: None)

    def initialize_many(self, image, boxes):
        self.states = [list(b) for b in boxes]

    def preprocess(self, image):
        return None, None

    def infer(self, search):
        return self.backend.infer(self.templates, search)

    def postprocess(self, out, aux, hw):
        return [types.SimpleNamespace(box=[1.0, 2.0, 3.0, 4.0], score=self.score) for _ in self.states]


def frames(n: int):
    image = np.zeros((8, 8, 3), np.uint8)
    return (Frame(i, i / 30, image) for i in range(n))


def test_loop_keeps_no_per_frame_lists():
    summary = track_frames(frames(3000), FakeTracker(), [[1, 1, 4, 4]])
    assert summary.frames == 3000 and summary.tracked == 2999
    assert all(len(v) == 0 for v in summary.times_ms.values())
    assert all(s.count == 2999 for s in summary.stats.values())
    assert math.isfinite(summary.stage_stats()["total"]["p99_ms"])


def test_non_finite_model_output_stops_run_and_jsonl_stays_valid(tmp_path):
    path = tmp_path / "r.jsonl"
    with pytest.raises(BackendError, match="non-finite"):
        track_frames(frames(5), FakeTracker(score=float("nan")), [[1, 1, 4, 4]], [JsonlSink(path)])
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["frame"] == 0   # the init frame only, completed at close
    sink = JsonlSink(tmp_path / "n.jsonl")
    sink.write(Frame(0, float("nan"), np.zeros((2, 2, 3), np.uint8)),
               [TargetState([float("inf"), 1.0, 2.0, 3.0], float("nan"), True)])
    sink.close()
    rec = json.loads((tmp_path / "n.jsonl").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert rec["timestamp"] is None and rec["boxes"] == [[None, 1.0, 2.0, 3.0]] and rec["scores"] == [None]


def test_official_checkpoint_with_settings_and_stats_loads_without_running_code(tiny_ckpt, tmp_path, monkeypatch):
    """The official trainer pickles settings (EasyDict cfg, env) and stats (meters) next to `net`."""
    from droptrack.model.checkpoint import load_tracking_checkpoint, read_file

    mods = {n: types.ModuleType(n) for n in ("lib", "lib.train", "lib.train.admin", "lib.train.admin.settings",
                                             "lib.train.admin.stats", "easydict")}
    for n, m in mods.items():
        monkeypatch.setitem(sys.modules, n, m)

    def cls(module: str, name: str, base=object):
        c = type(name, (base,), {"__module__": module})
        setattr(mods[module], name, c)
        return c

    Settings, Meter = cls("lib.train.admin.settings", "Settings"), cls("lib.train.admin.stats", "AverageMeter")
    EasyDict = cls("easydict", "EasyDict", dict)
    settings, meter, cfg = Settings(), Meter(), EasyDict(LR=1e-4)
    cfg.LR = 1e-4
    settings.cfg, settings.script_name = cfg, "ostrack"
    meter.avg, meter.count = np.float64(0.25), 3
    net = read_file(tiny_ckpt)["net"]
    path = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"epoch": 300, "actor_type": "OSTrackActor", "net_type": "OSTrack", "net": net, "net_info": None,
                "constructor": None, "stats": OrderedDict(train=OrderedDict(loss=meter)), "settings": settings}, path)
    for n in mods:
        monkeypatch.delitem(sys.modules, n)   # loading must not need (or import) the official code
    obj = read_file(path)
    assert obj["settings"].script_name == "ostrack" and obj["settings"].cfg["LR"] == 1e-4
    assert obj["stats"]["train"]["loss"].count == 3
    model, _ = load_tracking_checkpoint(path, "tiny_ce_test")
    assert torch.equal(model.state_dict()["box_head.conv5_ctr.weight"], net["box_head.conv5_ctr.weight"])


def test_run_that_writes_nothing_keeps_an_earlier_result(tmp_path):
    from droptrack.runtime.sinks import BoxFileSink

    class Failing(FakeTracker):
        def initialize_many(self, image, boxes):
            raise BackendError("model failed")

    earlier = tmp_path / "b.txt"
    earlier.write_text("1\t2\t3\t4\n")
    with pytest.raises(BackendError):
        track_frames(frames(3), Failing(), [[1, 1, 4, 4]], [BoxFileSink(earlier, 1), JsonlSink(tmp_path / "j")])
    assert earlier.read_text() == "1\t2\t3\t4\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt"]


def test_signals_while_the_outputs_close_let_them_close(tmp_path, capsys):
    """Ctrl-C pressed three times (or `timeout`'s SIGTERM after two): the second stops the loop at once, and a third
    that landed while the outputs were being closed raised KeyboardInterrupt inside that closing: the outputs after
    it kept their NAME.part (the box file was never renamed), the video had no index, and dt run said 'nothing was
    written'. Once the loop has ended a signal is now only acknowledged: every output is closed whole."""
    from droptrack.runtime.signals import StopFlag, graceful_signals
    from droptrack.runtime.sinks import BoxFileSink, Sink, VideoSink

    class SignalledWhileClosing(Sink):
        def write(self, frame, targets, fps=None) -> None:
            pass

        def close(self) -> None:
            os.kill(os.getpid(), signal.SIGINT)   # the third Ctrl-C
            time.sleep(0.2)

    def two_ctrl_c(summary) -> None:
        if summary.frames == 4:
            os.kill(os.getpid(), signal.SIGINT)   # stop after this frame
            os.kill(os.getpid(), signal.SIGINT)   # stop at once
            time.sleep(0.2)

    image = np.full((48, 64, 3), 90, np.uint8)
    sinks = [SignalledWhileClosing(), BoxFileSink(tmp_path / "b.txt", 1), VideoSink(tmp_path / "v.avi", 30.0)]
    with graceful_signals(StopFlag()) as stop:
        summary = track_frames((Frame(i, i / 30, image) for i in range(50)), FakeTracker(), [[1, 1, 4, 4]], sinks,
                               on_frame=two_ctrl_c, stop=stop)
    assert summary.interrupted and summary.signal == signal.SIGINT and summary.frames == 4
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 4 and not (tmp_path / "b.txt.part").exists()
    assert video_frames(tmp_path / "v.avi") == 4 and not (tmp_path / "v.part.avi").exists()
    assert "SIGINT: closing the outputs" in capsys.readouterr().err
