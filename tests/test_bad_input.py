"""Bad and hostile input across the commands: one line, exit 2, no traceback, no input or output lost.

Each case is a command line built in a scratch folder; the files it could destroy (the source video, the
checkpoint, an existing result) are hashed before and after. tests/test_runtime.py holds the first set of
`dt run` cases (boxes, sources, devices); this table adds output paths, model files and the other commands.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.config import load_config
from droptrack.data.media import bundled_video
from droptrack.data.synth import generate_synth
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from helpers import identity_graph

runner = CliRunner()
MARKER_NAME = "pickle_ran_code"


class RunsCode:
    """Pickles as a call to os.system: loading it with a full unpickler would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict[str, Path]:
    """Tiny checkpoint, a copy of a real video, a synthetic set, and broken model files."""
    d = tmp_path_factory.mktemp("bad_input")
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg).eval()
    ckpt = save_checkpoint(d / "tiny.pt", model, cfg)
    video = d / "clip.mp4"
    shutil.copy(bundled_video("carphone_pristine.mp4"), video)
    with torch.no_grad():
        model.box_head.conv5_ctr.weight[0, 0, 0, 0] = float("nan")
    nan_ckpt = save_checkpoint(d / "nan.pt", model, cfg)
    evil = d / "evil.pt"
    torch.save({"net": {"backbone.x": torch.zeros(1)}, "payload": RunsCode(d / MARKER_NAME)}, evil)
    (d / "garbage.pt").write_bytes(b"PK\x03\x04 not really a zip" * 10)
    (d / "garbage.onnx").write_bytes(b"\x08\x07garbage" * 20)
    (d / "result.txt").write_text("1\t2\t3\t4\n")
    (d / "dir.mp4").mkdir()
    (d / "outdir").mkdir()
    root = generate_synth(d / "synth", sequences=1, frames=4, seed=0, size=(96, 64))
    return {"d": d, "ckpt": ckpt, "video": video, "nan": nan_ckpt, "evil": evil, "root": root}


def cases(a: dict[str, Path]) -> dict[str, tuple[list, str]]:
    """name -> (argv, a word the error line must contain)."""
    d, video, ckpt = a["d"], a["video"], a["ckpt"]
    run = ["run", video, "-m", ckpt, "--device", "cpu", "--init", "60,40,40,50"]
    if not (d / "link.txt").exists():
        os.symlink(video, d / "link.txt")
        os.link(video, d / "hard.txt")
    return {
        "run --save onto the source": ([*run, "--save", video], "input"),
        "run --output onto the source": ([*run, "--output", video], "input"),
        "run --jsonl onto the source": ([*run, "--jsonl", video], "input"),
        "run --output symlink to the source": ([*run, "--output", d / "link.txt"], "input"),
        "run --output hard link to the source": ([*run, "--output", d / "hard.txt"], "input"),
        "run --output onto the checkpoint": ([*run, "--output", ckpt], "input"),
        "run --output onto a frame of the source folder": (["run", a["root"] / "synth_train_00001", "-m", ckpt,
                                                            "--device", "cpu", "--init", "10,10,20,20", "--output",
                                                            a["root"] / "synth_train_00001" / "00000001.jpg"],
                                                           "input"),
        "run --output and --jsonl the same": ([*run, "--output", d / "x.txt", "--jsonl", d / "x.txt"], "same file"),
        "run --save and --output the same": ([*run, "--output", d / "y.mp4", "--save", d / "y.mp4"], "same file"),
        "run --output a folder": ([*run, "--output", d / "outdir"], "folder"),
        "run --jsonl a folder": ([*run, "--jsonl", d / "outdir"], "folder"),
        "run --save a folder": ([*run, "--save", d / "dir.mp4"], "folder"),
        "run --output under /proc": ([*run, "--output", "/proc/self/boxes.txt"], "/proc"),
        "run --output under /sys": ([*run, "--output", "/sys/boxes.txt"], "/sys"),
        "run --output below a file": ([*run, "--output", d / "result.txt" / "b.txt"], "not a folder"),
        "run --output a device": ([*run, "--output", "/dev/zero"], "regular file"),
        "run --fps -5": ([*run, "--fps", "-5"], "--fps"),
        "run --fps 0": ([*run, "--fps", "0"], "--fps"),
        "run --fps nan": ([*run, "--fps", "nan"], "--fps"),
        "run --width 0": ([*run, "--width", "0"], "--width"),
        "run --save at a time-lapse --fps": (["run", a["root"] / "synth_train_00001", "-m", ckpt, "--device", "cpu",
                                              "--init", "10,10,20,20", "--fps", "0.001", "--save", d / "tl.mp4"],
                                             "--fps 0.001"),
        "run huge init box": (["run", video, "-m", ckpt, "--device", "cpu", "--init", "0,0,1e6,1e6"], "more than 2x"),
        "run NaN checkpoint": (["run", video, "-m", a["nan"], "--device", "cpu", "--init", "60,40,40,50"],
                               "conv5_ctr.weight"),
        "run code-running pickle": (["run", video, "-m", a["evil"], "--device", "cpu", "--init", "60,40,40,50"],
                                    "not a model file"),   # os.system: blocked, --trust-checkpoint would not read it
        "run corrupt checkpoint": (["run", video, "-m", d / "garbage.pt", "--device", "cpu",
                                    "--init", "60,40,40,50"], "corrupt"),
        "run corrupt onnx": (["run", video, "-m", d / "garbage.onnx", "--device", "cpu", "--init", "60,40,40,50"],
                             "garbage.onnx"),
        "eval --name traversal": (["eval", "--dataset", "synth", "--root", a["root"], "--checkpoint", ckpt,
                                   "--output", d / "ev", "--name", "../../escaped"], "--name"),
        "eval --output under /proc": (["eval", "--dataset", "synth", "--root", a["root"], "--checkpoint", ckpt,
                                       "--output", "/proc/results"], "/proc"),
        "eval --output an existing file": (["eval", "--dataset", "synth", "--root", a["root"], "--checkpoint", ckpt,
                                            "--output", d / "result.txt"], "file"),
        "eval --output inside the dataset root": (["eval", "--dataset", "synth", "--root", a["root"], "--checkpoint",
                                                  ckpt, "--output", a["root"] / "results"], "inside the dataset root"),
        "analyze --output under /proc": (["analyze", d / "outdir", "--dataset", "synth", "--root", a["root"],
                                          "--output", "/proc/analysis"], "/proc"),
        "analyze --output an existing file": (["analyze", d / "outdir", "--dataset", "synth", "--root", a["root"],
                                               "--output", d / "result.txt"], "file"),
        "data synth under /proc": (["data", "synth", "/proc/synth"], "/proc"),
        "data synth onto a file": (["data", "synth", d / "result.txt"], "file"),
        "data synth --seed -1": (["data", "synth", d / "neg_seed", "--seed", "-1"], "--seed -1"),
        "export corrupt onnx": (["export", d / "garbage.onnx"], "not a valid ONNX"),
        "export corrupt onnx --engine": (["export", d / "garbage.onnx", "--engine"], "not a valid ONNX"),
        "export code-running pickle": (["export", a["evil"], "--output", d / "exp"], "not a model file"),
        "export --output an existing file": (["export", ckpt, "--output", d / "result.txt"], "file"),
        "export --output under /proc": (["export", ckpt, "--output", "/proc/export"], "/proc"),
        "bench a missing artifact": (["bench", d / "missing.pt", "--output", d / "bench"], "not found"),
        "bench a text file as artifact": (["bench", d / "result.txt", "--output", d / "bench"], "not a model"),
        "bench --output an existing file": (["bench", ckpt, "--output", d / "result.txt"], "file"),
        "bench synthetic --root a file": (["bench", "--tracker", "csrt", "--data", "synthetic", "--root",
                                           d / "result.txt", "--output", d / "bench"], "--root"),
    }


def engine_cases(a: dict[str, Path]) -> dict[str, tuple[list, str]]:
    """Cases that hold on a machine without TensorRT (the usual CI machine)."""
    from droptrack.engine.trt_compat import unavailable_reason

    if not unavailable_reason():
        return {}
    import onnx as ox

    from droptrack.config import meta_from_config

    onnx = a["d"] / "identity.onnx"   # a graph with the tracker's I/O and metadata: the engine build is what fails
    model = identity_graph(meta_from_config(load_config("tiny_ce_test")))
    for k, v in meta_from_config(load_config("tiny_ce_test")).to_strings().items():
        model.metadata_props.add(key=k, value=v)
    ox.save(model, onnx)
    return {"export --engine without TensorRT": (["export", onnx, "--engine"], "no engine can be built")}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_inputs_one_line_exit_2_nothing_lost(assets, monkeypatch):
    monkeypatch.setenv("DT_DATA", str(assets["d"] / "no_data"))
    table = {**cases(assets), **engine_cases(assets)}
    assert len(table) >= 37
    keep = [assets["video"], assets["ckpt"], assets["d"] / "result.txt", assets["evil"],
            assets["root"] / "synth_train_00001" / "00000001.jpg"]
    before = {p: digest(p) for p in keep}
    problems = []
    for name, (argv, word) in table.items():
        r = runner.invoke(app, [str(x) for x in argv])
        lines = [line for line in r.output.splitlines() if line.strip()]
        if r.exit_code != 2 or len(lines) != 1 or not lines[0].startswith("error: ") or word not in lines[0] \
                or "Traceback" in r.output:
            problems.append((name, r.exit_code, r.output[-400:], repr(r.exception)))
        changed = [p.name for p in keep if digest(p) != before[p]]
        assert not changed, (name, changed)
    assert not problems, problems
    assert not (assets["d"] / MARKER_NAME).exists(), "loading the pickle ran its code"
    assert not (assets["d"].parent / "escaped").exists()
    for p in (assets["d"] / "x.txt", assets["d"] / "y.mp4", assets["d"] / "bench" / "bench.json"):
        assert not p.exists(), p   # refused before any output was created
    assert not (assets["root"] / "results").exists()


def test_source_video_byte_identical_after_refused_save(assets):
    video = assets["video"]
    size, before = video.stat().st_size, digest(video)
    r = runner.invoke(app, ["run", str(video), "-m", str(assets["ckpt"]), "--device", "cpu",
                            "--init", "60,40,40,50", "--save", str(video), "--max-frames", "3"])
    assert r.exit_code == 2 and "is the input" in r.output
    assert video.stat().st_size == size and digest(video) == before
    assert not list(video.parent.glob("*.part"))


def test_eval_name_stays_inside_output(assets, tmp_path):
    out = tmp_path / "a" / "b" / "results"
    r = runner.invoke(app, ["eval", "--dataset", "synth", "--root", str(assets["root"]), "--checkpoint",
                            str(assets["ckpt"]), "--output", str(out), "--name", "../../../x"])
    assert r.exit_code == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "a" / "x").exists()


def test_trust_checkpoint_reads_legacy_pickle_as_inert_records(tmp_path, caplog, assets):
    """A pickle with non-tensor objects: refused by default; with trust=True its foreign objects become plain
    records (name + arguments) with a warning, and a code-running payload still never runs."""
    from fractions import Fraction

    from droptrack.errors import CheckpointError
    from droptrack.model.checkpoint import read_file

    path = tmp_path / "legacy.pt"
    torch.save({"net": {"w": torch.ones(2)}, "ratio": Fraction(1, 3)}, path)
    with pytest.raises(CheckpointError, match="fractions.Fraction.*--trust-checkpoint"):
        read_file(path)
    with caplog.at_level("WARNING", logger="droptrack"):
        obj = read_file(path, trust=True)
    assert torch.equal(obj["net"]["w"], torch.ones(2))
    assert obj["ratio"]["__global__"] == "fractions.Fraction" and obj["ratio"]["args"] in ([1, 3], ["1/3"])
    assert any("fractions.Fraction read as plain data" in r.getMessage() for r in caplog.records)
    with pytest.raises(CheckpointError, match=r"calls into (posix|nt|os)\.system.*not a model file"):
        read_file(assets["evil"], trust=True)
    assert not (assets["d"] / MARKER_NAME).exists()


def test_nan_weights_refused_naming_the_tensor(assets):
    from droptrack.errors import CheckpointError
    from droptrack.model.checkpoint import load_tracking_checkpoint

    with pytest.raises(CheckpointError, match=r"box_head\.conv5_ctr\.weight.*1 NaN/Inf"):
        load_tracking_checkpoint(assets["nan"])
    model, _ = load_tracking_checkpoint(assets["ckpt"])   # the same file without the NaN loads
    assert all(bool(torch.isfinite(p).all()) for p in model.state_dict().values() if p.is_floating_point())


def test_integer_weights_refused_naming_the_tensor(assets, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from droptrack.errors import CheckpointError
    from droptrack.model.checkpoint import load_tracking_checkpoint, save_safetensors

    model, cfg = load_tracking_checkpoint(assets["ckpt"])   # int32 weights loaded as their truncation (zeros here)
    path = save_safetensors(tmp_path / "m.safetensors", model, cfg)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    state = load_file(str(path))
    state["box_head.conv5_ctr.weight"] = state["box_head.conv5_ctr.weight"].to(torch.int32)
    save_file(state, str(path), metadata=meta)
    with pytest.raises(CheckpointError, match=r"tensor 'box_head\.conv5_ctr\.weight' is int32, where the model has "
                                              "floating-point weights"):
        load_tracking_checkpoint(path)
    r = runner.invoke(app, ["doctor", str(path)])
    assert r.exit_code == 2 and "is int32" in r.output, r.output


def test_engine_sidecar_that_is_not_an_engine_description(tmp_path):
    from droptrack.engine.doctor import check_artifact
    from droptrack.engine.tensorrt_backend import read_sidecar
    from droptrack.errors import BackendError

    engine = tmp_path / "model.engine"
    engine.write_bytes(b"plan")
    cases = (("{}", "without 'meta'"), ("[1, 2]", "JSON list"), ('{"meta": {}, "env": {}}', "metadata without arch"))
    for text, word in cases:
        (tmp_path / "model.engine.json").write_text(text)
        with pytest.raises(BackendError, match=word):
            read_sidecar(engine)
        with pytest.raises(BackendError, match=word) as exc:   # dt doctor: bad input (exit 2), as in dt run
            check_artifact(engine, {})
        assert "None" not in str(exc.value)
