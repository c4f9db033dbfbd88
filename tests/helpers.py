"""Helpers shared by test files: `dt` in process, the one-line-error check, the needs-CUDA mark, an ONNX graph's
tensor types, a benchmarks/ script as a module, a camera's HTTP MJPEG stream that drops (and a running one), a tiny
image or text file, an image folder of a drifting square, a tiny training config and its quick options."""

from __future__ import annotations

import contextlib
import http.server
import socketserver
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app

runner = CliRunner()
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def benchmark_module(name: str):
    """A script of benchmarks/ imported as a module (its sibling modules importable), for tests of its functions."""
    import importlib.util
    import sys

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cli(*args):
    """`dt ARGS...` in process (every argument as a string)."""
    return runner.invoke(app, [str(a) for a in args], prog_name="dt")


@contextlib.contextmanager
def reaped(p):
    """A child process (a `dt serve` / `dt run` under test) killed and waited for if it still runs when the block
    ends: an assert that fails before it stops must not leave it serving."""
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@contextlib.contextmanager
def signals_ignored(*signums: int):
    """The handlers of `signums` set to SIG_IGN for the block, as a parent process can leave them, and put back after;
    yields {signum: the handler before}."""
    import signal

    before = {s: signal.signal(s, signal.SIG_IGN) for s in signums}
    try:
        yield before
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def drifting_square_clip(seed: int) -> list[np.ndarray]:
    """Three 120x160 RGB frames: a textured square drifting on noise (random draws from `seed`)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(3):
        f = rng.integers(0, 60, (120, 160, 3), dtype=np.uint8)
        f[40 + 2 * k: 70 + 2 * k, 60 + 3 * k: 90 + 3 * k] = rng.integers(150, 255, (30, 30, 3), dtype=np.uint8)
        out.append(f)
    return out


def eval_auc(root: Path, ckpt: Path, work: Path) -> float:
    """`dt eval --dataset synth` of CKPT on ROOT: the AUC its report.json gives (every sequence scored)."""
    import json

    result = CliRunner().invoke(app, ["eval", "--dataset", "synth", "--root", str(root), "-m", str(ckpt),
                                      "-o", str(work / "results"), "--name", "v", "--threads", "1"])
    assert result.exit_code == 0, result.output
    scored = json.loads((work / "results" / "v" / "report.json").read_text())["trackers"][0]
    assert scored["n_scored"] == len([p for p in Path(root).iterdir() if (p / "groundtruth.txt").is_file()])
    return scored["scores"]["auc"]


def one_epoch_options(out: Path, synth: Path, config: Path, iterations: int, **kw):
    """`train`'s options for a stopped-and-resumed run and the uninterrupted one it is compared with: one epoch of
    `iterations` iterations (batch 2, seed 5) of CONFIG on SYNTH, on the CPU in one thread, quiet."""
    from droptrack.train.trainer import TrainOptions

    return TrainOptions(config=str(config), output=out, data=[str(synth)], epochs=1, batch_size=2,
                        samples_per_epoch=2 * iterations, workers=0, seed=5, device="cpu", threads=1, quiet=True, **kw)


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by its relative path (a training run's tensorboard events in tb/ too, where
    tensorboard is installed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(result) -> str:
    """The error line of a refused command: exit 2, one line starting 'error: ', no traceback."""
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def pasted(line: str) -> list[str]:
    """The words bash passes to `dt` for `line` pasted at its prompt (`dt` a function that prints them)."""
    import os
    import shutil
    import subprocess

    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    script = "dt() { printf '%s\\0' \"$@\"; }\n" + line + "\n"
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, check=True,
                         env={**os.environ, "LC_ALL": "C.UTF-8"}).stdout
    return [os.fsdecode(w) for w in out.split(b"\0")[:-1]]


def tensor_types(model) -> dict[str, int]:
    """Element type of every tensor of an ONNX graph (shape inference, plus the initializers)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    vals = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    types = {v.name: v.type.tensor_type.elem_type for v in vals}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    return types


class MjpegHandler(http.server.BaseHTTPRequestHandler):
    """A camera's HTTP MJPEG stream: 8 frames per connection then it hangs up; the 2nd connection gets 503."""

    connections: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        k = len(self.connections)
        self.connections.append(k)
        if k == 1:
            self.send_error(503)   # the camera is still rebooting
            return
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        jpg = cv2.imencode(".jpg", np.full((48, 64, 3), 40 if k == 0 else 200, np.uint8))[1].tobytes()
        for _ in range(8):
            try:
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                                 + jpg + b"\r\n")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.01)


@contextlib.contextmanager
def mjpeg_camera():
    """A running `MjpegHandler` camera on a free loopback port: yields (stream URL, the list of its connections)."""
    handler = type("Handler", (MjpegHandler,), {"connections": []})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg", handler.connections
    finally:
        server.shutdown()
        server.server_close()


def img(path: Path, color=(200, 30, 10), size=(16, 12)) -> None:
    """A small solid RGB image (written as BGR by OpenCV)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((size[1], size[0], 3), color[::-1], np.uint8))


def text(path: Path, body: str) -> None:
    """Write a text file, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


def drifting_clip(folder: Path, frames: int) -> Path:
    """`frames` 96x72 PNGs of a textured 26x20 square drifting over noise (starts at 30,22): an image-folder source."""
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)
    patch = rng.integers(0, 255, (20, 26, 3), dtype=np.uint8)
    for i in range(frames):
        image = bg.copy()
        x, y = 30 + int(12 * np.sin(i / 15)), 22 + int(8 * np.cos(i / 20))
        image[y:y + 20, x:x + 26] = patch
        cv2.imwrite(str(folder / f"{i:05d}.png"), image)
    return folder


def square_avi(path: Path, frames: int) -> Path:
    """An MJPG AVI at 10 FPS, 64x48: a bright 20x20 square moving 1 px right per frame from (10, 10) on grey 40."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        image = np.full((48, 64, 3), 40, np.uint8)
        image[10:30, 10 + i:30 + i] = 220
        writer.write(image)
    writer.release()
    return path


def identity_graph(meta):
    """An onnx ModelProto (opset 17) of Identity nodes with the tracker's inputs and outputs at `meta`'s crop sizes,
    no metadata: a stand-in for an exported graph where its weights do not matter."""
    from onnx import TensorProto, helper

    crops = {"template": meta.template_size, "search": meta.search_size}
    graph = helper.make_graph(
        [helper.make_node("Identity", [src], [dst]) for src, dst in
         (("search", "score_map"), ("search", "size_map"), ("template", "offset_map"))], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, s, s]) for n, s in crops.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("score_map", "size_map", "offset_map")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@dataclass
class FakeSeq:
    """Stand-in for droptrack.data's sequence objects (what the metrics and dt analyze read of them)."""

    name: str
    dataset: str
    boxes: np.ndarray
    visible: np.ndarray | None = None
    cover: np.ndarray | None = None
    image_size: tuple[int, int] = (320, 240)


# A `dt` child that SIGKILLs itself at the os.replace onto a file whose name ends in sys.argv[1], before the rename
_KILLED_AT_REPLACE = """
import os, signal, sys
suffix, real = sys.argv.pop(1), os.replace
def replace(src, dst):
    if str(dst).endswith(suffix):
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
os.replace = replace
from droptrack.cli import app
app(sys.argv[1:], prog_name="dt")
"""


def dt_killed_at_replace(suffix: str, *args, timeout: float = 120, **env):
    """Run `dt ARGS` in a child killed by SIGKILL just before its atomic rename onto `*suffix` (its temporary left)."""
    import os
    import subprocess
    import sys

    import droptrack

    env = dict(os.environ, PYTHONPATH=str(Path(droptrack.__file__).parents[1]), **env)
    return subprocess.run([sys.executable, "-c", _KILLED_AT_REPLACE, suffix, *map(str, args)], env=env,
                          capture_output=True, timeout=timeout)


TINY_TRAIN = ["--epochs", "1", "--batch-size", "2", "--samples-per-epoch", "4", "--workers", "0", "--device", "cpu"]


def train_config(folder: Path, *names: str, **data_train) -> Path:
    """FOLDER/<names>.yaml: tiny_ce_test training on the dataset `names` (ratio 1 each), more DATA.TRAIN keys given."""
    from importlib import resources

    import yaml

    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    data["DATA"]["TRAIN"].update(DATASETS_NAME=list(names), DATASETS_RATIO=[1] * len(names), **data_train)
    path = folder / f"{'_'.join(names)}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
