"""A first-time user's `dt run`, `dt demo` and `dt doctor`: option combinations, model kinds, help accuracy."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from helpers import cli, one_line_error

from droptrack.data.media import bundled_video

VIDEO = bundled_video("carphone_pristine.mp4")


def test_save_container_is_checked_before_the_source_is_opened(tmp_path):
    empty = tmp_path / "frames"   # opening this source fails; --save's container must be refused first
    empty.mkdir()
    line = one_line_error(cli("run", empty, "--init", "1,1,4,4", "--save", tmp_path / "out.txt"))
    assert "--save" in line and "'.txt'" in line and ".mp4" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_upper_case_model_suffix_is_the_same_kind_of_model(exported, tmp_path):
    graph = tmp_path / "MODEL.ONNX"   # as a FAT stick or a Windows share names it
    graph.write_bytes((exported[0] / "model.onnx").read_bytes())
    r = cli("run", VIDEO, "-m", graph, "--device", "cpu", "--init", "60,40,40,50", "--max-frames", 2,
            "--output", tmp_path / "b.txt")
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 2
    r = cli("doctor", graph)
    assert r.exit_code == 0 and "runs on ONNX Runtime cpu" in r.output, r.output
    engine = tmp_path / "MODEL.ENGINE"
    engine.write_bytes(b"not an engine")
    assert "TensorRT engines run on CUDA only" in one_line_error(cli("run", VIDEO, "-m", engine, "--device", "cpu",
                                                                        "--init", "60,40,40,50"))


@pytest.mark.parametrize("source, option, value", [
    ("video", "--width", 64), ("video", "--fps", 5), ("folder", "--height", 48),
    ("rtsp://127.0.0.1:9/cam", "--width", 640), ("v4l2src ! videoconvert ! appsink", "--fps", 15)])
def test_capture_options_that_would_do_nothing_are_refused(tmp_path, source, option, value):
    folder = tmp_path / "frames"
    folder.mkdir()
    src = {"video": VIDEO, "folder": folder}.get(source, source)
    line = one_line_error(cli("run", src, "--init", "1,1,4,4", option, value, "--output", tmp_path / "b.txt"))
    assert f"{option} does nothing" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


@pytest.mark.parametrize("option, value", [("--fps", 10), ("--width", 64)])
def test_capture_options_for_a_photo_speak_of_a_photo(tmp_path, option, value):
    import cv2
    import numpy as np

    photo = tmp_path / "PHOTO.jpg"
    cv2.imwrite(str(photo), np.full((48, 64, 3), 90, np.uint8))
    line = one_line_error(cli("run", photo, "--init", "1,1,4,4", option, value, "--output", tmp_path / "b.txt"))
    assert f"{option} does nothing" in line and "a single photo is one still frame" in line
    assert "video" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["PHOTO.jpg"]


def test_capture_options_that_apply_still_run(tiny_ckpt, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    import cv2
    import numpy as np

    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    r = cli("run", folder, "-m", tiny_ckpt, "--device", "cpu", "--init", "10,10,20,20", "--fps", 5,
            "--jsonl", tmp_path / "b.jsonl")
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["timestamp"] for x in (tmp_path / "b.jsonl").read_text().splitlines()] == [0.0, 0.2, 0.4]


@pytest.mark.parametrize("args, word", [
    (["--aspect-penalty", "1"], "--aspect-penalty does nothing without --size-lr (this model's TEST.SIZE_LR is off)"),
    (["--reacq-threshold", "0.3"], "--reacq-threshold does nothing without --reacq-factor"),
    (["--template-refresh-every", "5"], "--template-refresh-every does nothing without --template-refresh"),
    (["--scale-penalty", "0.9"], "--scale-penalty does nothing without --scale-search"),
    (["--scale-fuse", "0.5"], "--scale-fuse does nothing without --scale-search"),
    (["--scale-search", "0.8", "--scale-fuse", "1.5"], "--scale-fuse: 1.5"),
    (["--official", "--reacq-center", "last"], "the options turn it off"),
    (["--scale-search", "off", "--scale-penalty", "0.9"], "the options turn it off"),
    (["--grid-window", "target"],
     "--grid-window does nothing without --crop-grid (this model's TEST.CROP_GRID is off)")])
def test_extension_settings_without_their_extension_are_refused(tiny_ckpt, tmp_path, args, word):
    line = one_line_error(cli("run", VIDEO, "-m", tiny_ckpt, "--device", "cpu", "--init", "60,40,40,50",
                              "--output", tmp_path / "b.txt", *args))
    assert word in line and not list(tmp_path.iterdir())


def test_extension_settings_with_their_extension_apply(tiny_ckpt, tmp_path):
    r = cli("run", VIDEO, "-m", tiny_ckpt, "--device", "cpu", "--init", "60,40,40,50", "--max-frames", 2,
            "--size-lr", "0.5", "--aspect-penalty", "1", "--scale-search", "0.8", "--scale-penalty", "0.9")
    assert r.exit_code == 0, r.output
    assert "size smoothing 0.5, aspect penalty 1; scale search 0.8 (penalty 0.9)" in r.output


def test_demo_of_an_onnx_graph_says_it_takes_a_checkpoint(exported, tmp_path):
    graph = exported[0] / "model.onnx"
    line = one_line_error(cli("demo", "--checkpoint", graph, "--output", tmp_path / "out"))
    assert "is an ONNX graph" in line and "PyTorch checkpoint" in line and f"dt bench {graph}" in line
    assert not (tmp_path / "out").exists()


def fake_engine(folder: Path, graph: Path) -> Path:
    """What `dt export --engine` leaves on a GPU machine (engine + sidecar) beside its ONNX graph, here where no
    TensorRT runs: the engine bytes are never read."""
    from droptrack.engine.onnxruntime_backend import OrtBackend

    with OrtBackend(graph) as be:
        meta = be.meta.to_dict()
    (folder / "model.onnx").write_bytes(graph.read_bytes())
    engine = folder / "model.engine"
    engine.write_bytes(b"serialized engine")
    (folder / "model.engine.json").write_text(json.dumps({
        "meta": meta, "precision": "fp16", "rebuild_command": f"dt export {folder / 'model.onnx'} --engine",
        "env": {"tensorrt": "10.3.0", "gpu": "Orin", "compute_capability": "8.7"}, "recipe": 1}))
    return engine


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks a machine without CUDA/TensorRT")
def test_engine_without_tensorrt_points_at_the_onnx_graph_not_at_a_rebuild(exported, tmp_path):
    engine = fake_engine(tmp_path, exported[0] / "model.onnx")
    r = cli("doctor", engine)
    verdict = r.output.strip().splitlines()[-1]
    assert r.exit_code == 1 and verdict.startswith("error: model.engine: fp16 engine"), r.output
    assert "cannot run here" in verdict and f"in its place ({tmp_path / 'model.onnx'})" in verdict
    assert "rebuild" not in verdict   # dt export --engine cannot build one here either
    for device in ([], ["--device", "cuda"]):
        line = one_line_error(cli("run", VIDEO, "-m", engine, "--init", "60,40,40,50", *device))
        assert f"in its place ({tmp_path / 'model.onnx'})" in line and "--device cpu" not in line


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_while_the_source_connects_stops_at_once(tmp_path, sig, code):
    """Nothing is in flight before the first frame: the first Ctrl-C / SIGTERM stops a run still retrying its
    stream (it waited out --reconnect-timeout, then exited 2 with the connection error)."""
    default, lock, sent, done = signal.getsignal(sig), threading.Lock(), [], []

    # the signal goes 1.5 s after dt run's handler is in, while it retries the stream; sent 1.5 s after the call, it
    # could come first (dt run's imports take seconds on a loaded machine), and a SIGTERM then ended pytest itself
    def send() -> None:
        end = time.monotonic() + 120
        while signal.getsignal(sig) is default and not done and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(1.5)
        with lock:
            if not done and signal.getsignal(sig) is not default:
                sent.append(time.monotonic())
                os.kill(os.getpid(), sig)   # delivered to the main thread, where dt run is

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        r = cli("run", "rtsp://127.0.0.1:9/cam", "--init", "1,1,4,4", "--reconnect-timeout", 8,
                "--output", tmp_path / "b.txt")
        ended = time.monotonic()
    finally:
        with lock:
            done.append(True)
        sender.join(130)
    assert sent, f"dt run ended before the signal: {r.output}"
    assert r.exit_code == code, r.output
    assert f"{signal.Signals(sig).name}: stopped before the first frame; nothing was written" in r.output
    assert "Traceback" not in r.output and ended - sent[0] < 4.5   # at once, not after the 8 s timeout
    assert not list(tmp_path.iterdir())


def test_model_folder_names_the_models_in_it(exported, tmp_path):
    line = one_line_error(cli("run", VIDEO, "-m", exported[0], "--init", "60,40,40,50", "--output", tmp_path / "b.txt"))
    assert "is a folder, not a model" in line and f"e.g. '{exported[0] / 'model.onnx'}'" in line
    assert "model_fp16.onnx" in line and "parity.json" not in line and not list(tmp_path.iterdir())


def test_doctor_builds_a_checkpoint_as_dt_run_does(tiny_ckpt, tmp_path):
    import torch

    obj = torch.load(tiny_ckpt, weights_only=True)
    obj["net"]["box_head.conv5_ctr.weight"][0] = float("nan")
    torch.save(obj, tmp_path / "nan.pt")
    run_line = one_line_error(cli("run", VIDEO, "-m", tmp_path / "nan.pt", "--init", "60,40,40,50"))
    assert one_line_error(cli("doctor", tmp_path / "nan.pt")) == run_line   # it said 'ok: ... runs'
    r = cli("doctor", tiny_ckpt)
    assert r.exit_code == 0 and "ok: checkpoint tiny_ce_test" in r.output, r.output


def test_dash_is_stdout_only_for_jsonl(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # --output - wrote the boxes into a file named '-' here
    line = one_line_error(cli("run", VIDEO, "--init", "60,40,40,50", "--output", "-"))
    assert "--output - would write a file named '-'" in line and "--jsonl -" in line
    assert not list(tmp_path.iterdir())


def test_demo_video_frames_stay_inside_the_bikes_shot(tmp_path):
    """bikes.mp4 cuts to another shot at frame 242: --video-frames above 55 tracked the bike into it (and above 63
    was capped without a word)."""
    import cv2
    import numpy as np

    from droptrack.demo import VIDEO_FRAMES, VIDEO_NAME, VIDEO_START

    cap = cv2.VideoCapture(str(bundled_video(VIDEO_NAME)))
    cap.set(cv2.CAP_PROP_POS_FRAMES, VIDEO_START + VIDEO_FRAMES - 1)
    last, cut, after = (cap.read()[1].astype(int) for _ in range(3))
    assert np.abs(cut - last).mean() > 4 * np.abs(after - cut).mean()   # the cut follows the shot's last frame
    line = one_line_error(cli("demo", "--video-frames", VIDEO_FRAMES + 1, "--output", tmp_path / "out"))
    assert f"at most {VIDEO_FRAMES}" in line and not (tmp_path / "out").exists()


def test_checkpoint_options_with_an_onnx_graph_are_refused(exported, tmp_path):
    """--config and --trust-checkpoint were ignored without a word for an ONNX graph (it carries its config)."""
    from droptrack.data import generate_synth

    graph = exported[0] / "model.onnx"
    data = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    cases = [["run", VIDEO, "-m", graph, "--init", "60,40,40,50", "--config", "vitb_256_mae_ce_32x4_ep300"],
             ["run", VIDEO, "-m", graph, "--init", "60,40,40,50", "--trust-checkpoint"],
             ["eval", "--dataset", "synth", "--root", data, "-m", graph, "--config", "tiny_ce_test",
              "-o", tmp_path / "res"]]   # (dt bench: --config also loads the reference checkpoint, so it stays)
    for args in cases:
        line = one_line_error(cli(*args))
        assert "applies to checkpoints" in line and "ONNX graph" in line, args
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("value", ["25", "-0.5", "nan"])
def test_lost_threshold_is_a_score_between_0_and_1(tmp_path, value):
    """Scores are in [0, 1]: --lost-threshold 25 (a percentage) flagged every frame lost."""
    line = one_line_error(cli("run", VIDEO, "--init", "60,40,40,50", "--lost-threshold", value,
                              "--output", tmp_path / "b.txt"))
    assert "--lost-threshold" in line and "between 0 and 1" in line and not list(tmp_path.iterdir())


def test_doctor_refuses_what_dt_run_refuses_as_not_a_model(exported, tmp_path):
    """dt doctor notes.txt was a failed check 'corrupt or not a PyTorch file (KeyError)' (exit 1) where dt run says
    it is not a model (exit 2); a folder of models is named as dt run names it."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model\n")
    assert "is a '.txt' file, not a model" in one_line_error(cli("doctor", notes))
    assert f"e.g. '{exported[0] / 'model.onnx'}'" in one_line_error(cli("doctor", exported[0]))


def test_first_signal_of_a_running_loop_says_what_happens(capsys):
    """A source in an outage may not deliver the current frame for a long time: the first Ctrl-C printed nothing
    while the run went on; it says the run stops after the current frame and how to stop at once."""
    from droptrack.runtime.signals import StopFlag, graceful_signals

    with graceful_signals(StopFlag()) as stop:
        stop.armed = True   # as the tracking loop does
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert stop.signum == signal.SIGTERM
        assert "SIGTERM: stopping after the current frame (send it again to stop at once)" in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)


def test_stream_that_stops_says_the_outputs_hold_what_was_tracked(tiny_ckpt, tmp_path):
    """A real HTTP MJPEG stream that hangs up after 8 frames, no --reconnect: the error now says the outputs (closed
    and complete) hold the frames tracked until then; it said nothing about them."""
    from helpers import mjpeg_camera

    with mjpeg_camera() as (url, _):
        r = cli("run", url, "-m", tiny_ckpt, "--device", "cpu", "--init", "20,10,16,16", "--every-frame",
                "--output", tmp_path / "b.txt", "--jsonl", tmp_path / "b.jsonl")
    line = r.output.strip().splitlines()[-1]   # after the progress bar of the frames tracked
    assert r.exit_code == 2 and line.startswith("error: ") and "Traceback" not in r.output, r.output
    assert "stopped delivering frames after 8 frames" in line
    assert f"{tmp_path / 'b.txt'}, {tmp_path / 'b.jsonl'} hold every frame tracked until then" in line
    boxes, records = (tmp_path / "b.txt").read_text().splitlines(), (tmp_path / "b.jsonl").read_text().splitlines()
    assert len(boxes) == len(records) == 8 and [json.loads(r)["frame"] for r in records] == list(range(8))


def test_reader_that_closes_the_jsonl_pipe_stops_the_run_cleanly(tiny_ckpt, tmp_path):
    """`dt run ... --jsonl - | head -3`: a real pipe whose reader closes it after 3 lines. dt run exited 1 with no
    word (a BrokenPipeError) and its box file held a frame the pipe never got; now it stops as on a signal: every
    output closed and holding the frames it was sent, a notice on stderr, exit 141 (128 + SIGPIPE)."""
    import subprocess
    import sys

    import cv2

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "droptrack", "run", str(VIDEO), "--loop", "--max-frames", "5000",
                             "-m", str(tiny_ckpt), "--device", "cpu", "--init", "60,40,40,50", "--jsonl", "-",
                             "--output", str(tmp_path / "b.txt"), "--save", str(tmp_path / "v.avi")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [json.loads(proc.stdout.readline()) for _ in range(3)]
        proc.stdout.close()   # as head -3 does
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    boxes = (tmp_path / "b.txt").read_text().splitlines()
    assert f"SIGPIPE: the reader of --jsonl - closed the pipe; stopped after {len(boxes)} frames" in err, err
    assert "latency per stage" in err   # the summary, on stderr (stdout is the closed pipe)
    assert 3 <= len(boxes) < 5000 and [r["frame"] for r in lines] == [0, 1, 2]
    assert boxes[:3] == ["\t".join(str(int(v)) for v in r["boxes"][0]) for r in lines]
    cap = cv2.VideoCapture(str(tmp_path / "v.avi"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(boxes)
    cap.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt", "v.avi"]


def test_doctor_without_an_artifact_says_what_this_machine_runs():
    """`dt doctor` alone printed the environment table and no verdict (with an artifact it says 'ok: ... runs ...');
    it now says which kinds of model run here, on which devices, and why the others do not."""
    import torch

    r = cli("doctor")
    assert r.exit_code == 0, r.output
    verdict = r.output.strip().splitlines()[-1]
    cuda = " and cuda" if torch.cuda.is_available() else ""
    assert verdict.startswith(f"ok: this machine runs checkpoints with the torch backend on cpu{cuda}"), r.output
    assert ("TensorRT engines" in verdict) and ("ONNX graphs on ONNX Runtime cpu" in verdict), r.output
    from droptrack.engine.doctor import machine_verdict

    cpu_box = {"torch": "2.5", "torch_cuda": False, "onnxruntime": "1.20", "ort_providers": ["CPUExecutionProvider"],
               "tensorrt_status": "TensorRT is not installed here"}
    assert machine_verdict(cpu_box).message == (
        "this machine runs checkpoints with the torch backend on cpu, ONNX graphs on ONNX Runtime cpu; not TensorRT "
        "engines: TensorRT is not installed here")
    gpu_box = {"torch": "2.5", "torch_cuda": True, "onnxruntime": "1.20", "tensorrt": "10.7", "gpu": "Orin",
               "compute_capability": "8.7", "tensorrt_status": "usable",
               "ort_providers": ["CUDAExecutionProvider", "CPUExecutionProvider"]}
    assert machine_verdict(gpu_box).message == (
        "this machine runs checkpoints with the torch backend on cpu and cuda (Orin), ONNX graphs on ONNX Runtime "
        "cpu and cuda, TensorRT engines built with TensorRT 10.7 for sm 8.7 (Orin)")
    assert machine_verdict({"torch": "", "onnxruntime": "", "tensorrt_status": "no GPU"}).level == "error"


def test_safetensors_checkpoint_is_a_checkpoint_everywhere(tiny_ckpt, tmp_path):
    """A .safetensors file (tensors only: the safest model file) was refused by dt run, doctor, eval and bench as
    'not a model' although the checkpoint reader reads it. It now runs wherever a checkpoint does, tracking as the
    same weights in .pt do; it carries no config, so without --config the error says how to give one."""
    import torch
    from safetensors.torch import save_file

    weights = tmp_path / "TINY.SAFETENSORS"   # any case, as for the other suffixes
    save_file({k: v.contiguous() for k, v in torch.load(tiny_ckpt, weights_only=True)["net"].items()}, str(weights))
    args = ["--device", "cpu", "--init", "60,40,40,50", "--max-frames", 4]
    line = one_line_error(cli("run", VIDEO, "-m", weights, *args))
    assert "holds weights without their config" in line and "--config NAME" in line
    for model, extra, out in ((tiny_ckpt, [], "pt.txt"), (weights, ["--config", "tiny_ce_test"], "st.txt")):
        r = cli("run", VIDEO, "-m", model, *extra, *args, "--output", tmp_path / out)
        assert r.exit_code == 0, r.output
    boxes = (tmp_path / "st.txt").read_text().splitlines()
    assert len(boxes) == 4 and boxes == (tmp_path / "pt.txt").read_text().splitlines()
    r = cli("doctor", weights, "--config", "tiny_ce_test")
    assert r.exit_code == 0 and "ok: checkpoint tiny_ce_test" in r.output, r.output
    assert "--config NAME" in cli("doctor", weights).output
    assert "unknown config 'tiny_ce'" in one_line_error(cli("doctor", weights, "--config", "tiny_ce"))
    r = cli("bench", weights, "--config", "tiny_ce_test", "--sequences", 1, "--frames", 3, "-o", tmp_path / "bench")
    assert r.exit_code == 0 and "reference: " in r.output, r.output


def test_demo_explains_the_embedded_models_divergence_gates_only_where_they_failed():
    """dt demo showed 'gate failed' on the embedded model's FP16/INT8 rows with nothing saying that their export
    parity had passed (the graphs are right; the small model's tracks part on near-tied peaks). The note names the
    rows whose divergence gate failed, and only for the embedded model."""
    from droptrack.demo import divergence_note
    from droptrack.eval.bench_gates import Gate
    from droptrack.eval.bench_rows import BenchRow

    def row(name, precision, diverged_ok, auc_ok=True):
        return BenchRow(name, name + ".onnx", "onnx", precision, "passed" if diverged_ok and auc_ok else "gate_failed",
                        gates=[Gate("max_auc_drop", 1.0, 0.5 if auc_ok else 2.0, auc_ok, False),
                               Gate("max_divergence", 0.01, 0.0 if diverged_ok else 0.17, diverged_ok, False)])

    rows = [row("model", "fp32", True), row("model_fp16", "fp16", False), row("model_int8_ort", "int8", True, False),
            row("model_int8_trt", "int8", False, False)]
    note = divergence_note(rows, embedded=True)
    assert note.startswith("model_fp16, model_int8_trt: tensor parity passed at export")
    assert "model_int8_ort" not in note   # its AUC gate failed, not the divergence one: no such explanation
    assert divergence_note(rows, embedded=False) is None   # a user's checkpoint: the cause may be anything
    assert divergence_note([row("model_fp16", "fp16", True)], embedded=True) is None
