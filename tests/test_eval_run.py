"""`dt eval` / droptrack.eval.run: parallel tracking of a synthetic set, official files, resume, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.config import load_config
from droptrack.data import generate_synth, get_sequences
from droptrack.errors import InputError
from droptrack.eval.run import evaluate, tracker_name
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint

NAMES = [f"synth_train_{i:05d}" for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A tiny CE checkpoint (fixed seed) and a 3-sequence x 12-frame 160x120 synthetic set."""
    d = tmp_path_factory.mktemp("eval_assets")
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    ckpt = save_checkpoint(d / "tiny.pt", build_model(cfg), cfg)
    root = generate_synth(d / "synth", sequences=3, frames=12, seed=0, size=(160, 120))
    return ckpt, root


def dt_eval(root: Path, ckpt: Path, out: Path, *extra: str):
    """Invoke `dt eval` in-process (its workers are spawned processes)."""
    return CliRunner().invoke(app, ["eval", "--dataset", "synth", "--root", str(root), "--checkpoint", str(ckpt),
                                    "--output", str(out), *extra])


@pytest.fixture(scope="module")
def reference(assets, tmp_path_factory):
    """An uninterrupted 2-worker run: (tracker folder, CLI output)."""
    ckpt, root = assets
    out = tmp_path_factory.mktemp("eval_ref")
    res = dt_eval(root, ckpt, out, "--workers", "2")
    assert res.exit_code == 0, res.output
    return out / "tiny", res.output


def snapshot(d: Path) -> dict[str, bytes]:
    """Deterministic files of a results folder: boxes and the GOT-10k submission boxes (times are measurements)."""
    files = {p.name: p.read_bytes() for p in sorted(d.glob("*.txt")) if not p.name.endswith("_time.txt")}
    with zipfile.ZipFile(d / "got10k_submit.zip") as zf:
        files.update({n: zf.read(n) for n in zf.namelist() if n.endswith("_001.txt")})
    return files


def test_eval_writes_official_files_and_report(assets, reference):
    _, root = assets
    out, output = reference
    seqs = get_sequences("synth", root=root)
    for s in seqs:
        lines = (out / f"{s.name}.txt").read_text().splitlines()
        assert len(lines) == len(s) == 12
        assert lines[0] == "\t".join(str(int(v)) for v in np.trunc(s.boxes[0]))    # init GT, truncated ints
        assert all(len(ln.split("\t")) == 4 for ln in lines)
        times = (out / f"{s.name}_time.txt").read_text().split()
        assert len(times) == 12 and all(float(t) >= 0 for t in times)
    with zipfile.ZipFile(out / "got10k_submit.zip") as zf:
        names = set(zf.namelist())
    assert names == {f"{n}/{n}_{k}.txt" for n in NAMES for k in ("001", "time")}
    first = (out / "got10k_submit" / NAMES[0] / f"{NAMES[0]}_001.txt").read_text().splitlines()[0]
    assert first == (out / f"{NAMES[0]}.txt").read_text().splitlines()[0].replace("\t", ",")
    report = json.loads((out / "report.json").read_text())
    assert report["protocol"] == "ostrack-ope" and report["sequences"] == NAMES
    assert report["trackers"][0]["errors"] == {} and report["trackers"][0]["scores"]["auc"] is not None
    assert json.loads((out / "report_got10k.json").read_text())["protocol"] == "got10k-toolkit"
    assert (out / "success.png").is_file() and not list(out.glob(".*.tmp"))
    for word in ("AUC", "OP75", "GOT-10k toolkit: AO", "got10k_submit.zip", "3 tracked, 0 resumed",
                 "tracker: official procedure"):
        assert word in output


def test_eval_names_the_tracker_extensions_the_artifact_turns_on(assets, tmp_path):
    """A checkpoint carrying TEST.SCALE_SEARCH is evaluated with it, and `dt eval` says so."""
    from droptrack.config import config_from_dict, config_to_dict

    _, root = assets
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    d = config_to_dict(cfg)
    d["TEST"].update(SCALE_SEARCH=[0.8], SCALE_PENALTY=0.97)
    ckpt = save_checkpoint(tmp_path / "scaled.pt", build_model(cfg), config_from_dict(d, name=cfg.NAME))
    res = dt_eval(root, ckpt, tmp_path / "out", "--sequences", NAMES[0])
    assert res.exit_code == 0, res.output
    assert "tracker: official + scale search 0.8 (penalty 0.97)" in res.output


def test_eval_options_equal_the_same_keys_in_the_checkpoint(assets, tmp_path):
    """`dt eval --scale-search 0.8 --scale-penalty 0.97 --crop-grid 0.1` tracks exactly as a checkpoint carrying
    those TEST keys does without options; the results go to a folder named after them, and resuming that folder
    with other options is refused instead of mixing two procedures."""
    from droptrack.config import config_from_dict, config_to_dict

    ckpt, root = assets
    model, cfg = torch.load(ckpt, map_location="cpu", weights_only=True)["net"], load_config("tiny_ce_test")
    d = config_to_dict(cfg)
    d["TEST"].update(SCALE_SEARCH=[0.8], SCALE_PENALTY=0.97, CROP_GRID=0.1)
    net = build_model(cfg)
    net.load_state_dict(model)
    keyed = save_checkpoint(tmp_path / "keyed.pt", net, config_from_dict(d, name=cfg.NAME))
    by_file = dt_eval(root, keyed, tmp_path / "a", "--sequences", NAMES[0])
    opts = ["--scale-search", "0.8", "--scale-penalty", "0.97", "--crop-grid", "0.1"]
    by_opts = dt_eval(root, ckpt, tmp_path / "b", "--sequences", NAMES[0], *opts)
    assert by_file.exit_code == 0 and by_opts.exit_code == 0, by_file.output + by_opts.output
    folder = tmp_path / "b" / "tiny+crop_grid=0.1+scale_penalty=0.97+scale_search=0.8"
    got = np.loadtxt(folder / f"{NAMES[0]}.txt")
    assert np.array_equal(got, np.loadtxt(tmp_path / "a" / "keyed" / f"{NAMES[0]}.txt"))
    plain = dt_eval(root, ckpt, tmp_path / "b", "--sequences", NAMES[0])            # its own folder: 'tiny'
    assert plain.exit_code == 0 and not np.array_equal(
        np.loadtxt(tmp_path / "b" / "tiny" / f"{NAMES[0]}.txt"), got)   # the options did change it
    mixed = dt_eval(root, ckpt, tmp_path / "b", "--sequences", NAMES[0], "--crop-grid", "0.05", "--name", folder.name)
    assert mixed.exit_code == 2 and ("tracker options: --crop-grid 0.1 --scale-penalty 0.97 --scale-search 0.8, now "
                                     "--crop-grid 0.05,") in mixed.output, mixed.output
    official = dt_eval(root, keyed, tmp_path / "c", "--sequences", NAMES[0], "--official")
    assert official.exit_code == 0 and (tmp_path / "c" / "keyed+official").is_dir(), official.output
    assert "tracker: official procedure" in official.output


def test_realtime_eval_lags_one_frame_when_fast_and_skips_when_slow(assets, reference, tmp_path):
    """`dt eval --realtime-fps`: a 1 ms tracker on a 30 FPS stream reports at frame i its offline box of frame i - 1;
    at 100 ms it runs on about every third frame only, and its folder and summary say so."""
    ckpt, root = assets
    fast = dt_eval(root, ckpt, tmp_path, "--sequences", NAMES[0], "--realtime-fps", "30", "--latency-ms", "1")
    assert fast.exit_code == 0, fast.output
    got = (tmp_path / "tiny+realtime30_latency1" / f"{NAMES[0]}.txt").read_text().splitlines()
    offline = (reference[0] / f"{NAMES[0]}.txt").read_text().splitlines()
    assert got[0] == offline[0] and got[1:] == offline[:-1]
    assert "the tracker ran on 12 of 12 frames" in fast.output
    slow = dt_eval(root, ckpt, tmp_path, "--sequences", NAMES[0], "--realtime-fps", "30", "--latency-ms", "100")
    assert slow.exit_code == 0 and "the tracker ran on 4 of 12 frames" in slow.output, slow.output   # 0, 3, 6, 9
    times = np.loadtxt(tmp_path / "tiny+realtime30_latency100" / f"{NAMES[0]}_time.txt")
    assert np.flatnonzero(times).tolist() == [0, 3, 6, 9]


def test_result_files_without_a_manifest_are_not_resumed(assets, reference, tmp_path):
    """A folder holding a sequence's result file that dt eval did not write (no eval.json) is refused, untouched."""
    ckpt, root = assets
    out = tmp_path / "tiny"
    out.mkdir()
    foreign = out / f"{NAMES[0]}.txt"
    shutil.copyfile(reference[0] / f"{NAMES[0]}.txt", foreign)
    before = foreign.read_bytes()
    res = dt_eval(root, ckpt, tmp_path)
    assert res.exit_code == 2 and "no eval.json" in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert foreign.read_bytes() == before and not (out / "eval.json").exists()


def test_interrupted_run_resumes_to_identical_files(assets, reference, tmp_path):
    ckpt, root = assets
    seqs = get_sequences("synth", root=root)
    done: list[str] = []

    def stop_after_first(name: str) -> None:       # the interrupt arrives right after one sequence is saved
        done.append(name)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(ckpt, seqs, tmp_path, workers=2, progress=False, on_sequence=stop_after_first)
    out = tmp_path / "tiny"
    assert sorted(p.name for p in out.glob("*.txt")) == [f"{done[0]}.txt", f"{done[0]}_time.txt"]
    saved = (out / f"{done[0]}.txt").stat().st_mtime_ns
    (out / f".{NAMES[2]}.txt.killed.tmp").write_text("1\t2\t")     # what a kill -9 mid-write leaves behind
    time.sleep(0.01)
    res = dt_eval(root, ckpt, tmp_path, "--workers", "2")
    assert res.exit_code == 0, res.output
    assert "2 tracked, 1 resumed" in res.output
    assert (out / f"{done[0]}.txt").stat().st_mtime_ns == saved       # not recomputed
    assert not list(out.glob(".*.tmp"))
    assert snapshot(out) == snapshot(reference[0])                    # byte for byte


def test_only_missing_sequence_is_recomputed(assets, reference, tmp_path):
    ckpt, root = assets
    out = tmp_path / "tiny"
    shutil.copytree(reference[0], out)
    (out / f"{NAMES[1]}.txt").unlink()                                # as if killed between its two files
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.txt")}
    result = evaluate(ckpt, get_sequences("synth", root=root), tmp_path, workers=2, progress=False)
    assert result.tracked == [NAMES[1]] and sorted(result.resumed) == [NAMES[0], NAMES[2]]
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.txt")}
    assert sorted(n for n in after if after[n] != before.get(n)) == sorted([f"{NAMES[1]}.txt", f"{NAMES[1]}_time.txt"])
    assert snapshot(out) == snapshot(reference[0])
    assert set(result.boxes) == set(NAMES) and all(len(b) == 12 for b in result.boxes.values())
    assert result.report.protocol == "ostrack-ope" and "got10k-toolkit" in result.reports


def test_binary_garbage_in_a_result_file_is_tracked_again(assets, reference, tmp_path):
    """A result or time file holding binary bytes (a disk error, another tool) was a UnicodeDecodeError traceback
    in dt eval's resume and in dt analyze; it counts as unfinished now, and analyze reports it per sequence."""
    ckpt, root = assets
    out = tmp_path / "tiny"
    shutil.copytree(reference[0], out)
    (out / f"{NAMES[0]}.txt").write_bytes(b"\xd1\xae\xff\x00garbage")
    bad = CliRunner().invoke(app, ["analyze", str(out), "--dataset", "synth", "--root", str(root), "--output",
                                   str(tmp_path / "an")])
    errors = json.loads((tmp_path / "an" / "report.json").read_text())["trackers"][0]["errors"]
    assert bad.exit_code == 0 and "not a table of numbers" in errors[NAMES[0]], bad.output   # scored without it
    (out / f"{NAMES[1]}_time.txt").write_bytes(b"\xd1\xae\xff")
    result = evaluate(ckpt, get_sequences("synth", root=root), tmp_path, progress=False)
    assert sorted(result.tracked) == sorted(NAMES[:2]) and snapshot(out) == snapshot(reference[0])


def test_results_of_another_artifact_are_not_mixed(assets, reference, tmp_path):
    _, root = assets
    shutil.copytree(reference[0], tmp_path / "tiny")
    torch.manual_seed(1)
    cfg = load_config("tiny_ce_test")
    other = save_checkpoint(tmp_path / "other" / "tiny.pt", build_model(cfg), cfg)
    with pytest.raises(InputError, match="another run"):
        evaluate(other, get_sequences("synth", root=root), tmp_path, progress=False)


def test_another_runs_results_are_refused_before_the_model_loads(assets, reference, tmp_path):
    """dt eval loaded the model (in every worker; minutes for a large one) before it refused a results folder holding
    another model's results; the refusal comes first now: a model file that cannot load gets it, not a load error."""
    from helpers import one_line_error

    _, root = assets
    shutil.copytree(reference[0], tmp_path / "tiny")
    for name in (f"{NAMES[0]}.txt", f"{NAMES[0]}_time.txt"):   # a sequence left to track: a model is needed
        (tmp_path / "tiny" / name).unlink()
    broken = tmp_path / "other" / "tiny.pt"   # the same folder name, other bytes; loading it would fail
    broken.parent.mkdir()
    broken.write_bytes(b"PK\x03\x04 not a checkpoint")   # a zip's first bytes: only loading it tells it is broken
    line = one_line_error(dt_eval(root, broken, tmp_path, "--workers", "2"))
    assert f"{tmp_path / 'tiny'} holds results of another run (artifact_sha256" in line
    for name in NAMES[1:]:
        assert (tmp_path / "tiny" / f"{name}.txt").read_bytes() == (reference[0] / f"{name}.txt").read_bytes()
    assert not (tmp_path / "tiny" / f"{NAMES[0]}.txt").exists()
    assert json.loads((tmp_path / "tiny" / "eval.json").read_text()) == json.loads(
        (reference[0] / "eval.json").read_text())


def test_results_of_other_frames_are_not_resumed(assets, reference, tmp_path):
    """Another set with the same sequence names and lengths (another --root, a regenerated set) was resumed silently
    and scored against its own ground truth; it is refused now, and the same set still resumes."""
    ckpt, root = assets
    shutil.copytree(reference[0], tmp_path / "tiny")
    other = generate_synth(tmp_path / "other", sequences=3, frames=12, seed=7, size=(160, 120))
    with pytest.raises(InputError, match="tracked on other frames"):
        evaluate(ckpt, get_sequences("synth", root=other), tmp_path, progress=False)
    result = evaluate(ckpt, get_sequences("synth", root=root), tmp_path, progress=False)
    assert sorted(result.resumed) == sorted(NAMES) and not result.tracked


def _children(pid: int) -> list[int]:
    """Direct child processes of pid (Linux /proc)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _alive(pids: list[int]) -> list[str]:
    """Command lines of the pids still running (zombies excluded)."""
    alive = []
    for k in pids:
        try:
            if "Z" not in Path(f"/proc/{k}/stat").read_text().rsplit(")", 1)[1].split()[:1]:
                alive.append(Path(f"/proc/{k}/cmdline").read_text().replace("\0", " "))
        except (OSError, IndexError):
            pass
    return alive


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or sys.platform != "linux", reason="needs Linux /proc")
def test_ctrl_c_stops_workers_and_keeps_only_complete_files(assets, tmp_path):
    ckpt, _ = assets
    root = generate_synth(tmp_path / "long", sequences=3, frames=60, seed=2, size=(160, 120))
    cmd = [sys.executable, "-c", "from droptrack.cli import app; app()", "eval", "--dataset", "synth", "--root", str(root),
           "--checkpoint", str(ckpt), "--output", str(tmp_path / "out"), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    out, deadline, kids = tmp_path / "out" / "tiny", time.time() + 120, []
    while time.time() < deadline and proc.poll() is None and not list(out.glob("*_time.txt")):
        kids = _children(proc.pid) or kids
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)                               # Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err
    if proc.returncode == 130:
        assert err.strip().splitlines()[-1].startswith("interrupted")
    for _ in range(50):                                              # the workers are gone
        if not _alive(kids):
            break
        time.sleep(0.1)
    assert kids and not _alive(kids), _alive(kids)
    assert not list(out.glob(".*.tmp"))
    for f in out.glob("synth_*.txt"):
        assert len(f.read_text().splitlines()) == 60                 # only complete files


@pytest.mark.parametrize("args, message", [
    (["--dataset", "lasott"], "unknown dataset 'lasott'"),
    (["--dataset", "synth", "--root", "{tmp}/missing"], "does not exist"),
    (["--dataset", "synth", "--root", "{tmp}/empty"], "has no sequences"),
    (["--dataset", "synth", "--root", "{root}", "--sequences", "synth_train_0001"], "did you mean synth_train_00001"),
    (["--dataset", "synth", "--root", "{root}", "--checkpoint", "{tmp}/none.pt"], "not found"),
    (["--dataset", "synth", "--root", "{root}", "--workers", "0"], "--workers 0"),
    (["--dataset", "synth", "--root", "{root}", "--threads", "0"], "--threads 0"),
    (["--dataset", "synth", "--root", "{root}", "--crop-grid", "0.5"], "--crop-grid"),
    (["--dataset", "synth", "--root", "{root}", "--scale-search", "0.8,x"], "--scale-search"),
    (["--dataset", "synth", "--root", "{root}", "--window-power", "5"], "--window-power"),
    (["--dataset", "synth", "--root", "{root}", "--grid-window", "centre"], "--grid-window"),
    (["--dataset", "synth", "--root", "{root}", "--tracker", "csrt", "--crop-grid", "0.1"], "apply to models"),
    (["--dataset", "synth", "--root", "{root}", "--realtime-fps", "0"], "--realtime-fps"),
    (["--dataset", "synth", "--root", "{root}", "--latency-ms", "20"], "needs --realtime-fps"),
    (["--dataset", "synth", "--root", "{root}", "--predict"], "--predict needs --realtime-fps"),
    (["--dataset", "synth", "--root", "{root}", "--realtime-fps", "30", "--workers", "2"], "--workers 1"),
    (["--dataset", "synth", "--root", "{root}", "--device", "gpu"], "--device 'gpu' is not cpu or cuda"),
    (["--dataset", "synth", "--root", "{root}", "--device", "cuda0"], "--device 'cuda0' is not cpu or cuda"),
])
def test_bad_input_is_one_line_exit_2(assets, tmp_path, args, message):
    ckpt, root = assets
    (tmp_path / "empty").mkdir()
    args = [a.format(tmp=tmp_path, root=root) for a in args]
    if "--checkpoint" not in args and "--tracker" not in args:
        args += ["--checkpoint", str(ckpt)]
    res = CliRunner().invoke(app, ["eval", *args, "--output", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.output
    assert not list((tmp_path / "out").glob("*/*.txt"))


def test_tracker_name_from_artifact():
    assert tracker_name("runs/a/last.pt") == "last"
    assert tracker_name("x/OSTrack_ep0300.pth.tar") == "OSTrack_ep0300"
    assert tracker_name("m/model_fp16.onnx") == "model_fp16"
    assert tracker_name(None) == "default"


def test_corrupt_model_writes_nothing(assets, tmp_path):
    """dt eval -m corrupt.pt (random bytes, or a real checkpoint cut short) made OUTPUT/<name>/ with eval.json, then
    failed in the worker that loaded the model; the model now loads before any output, with one or more workers."""
    from helpers import one_line_error

    ckpt, root = assets
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    cut = tmp_path / "cut.pt"
    cut.write_bytes(Path(ckpt).read_bytes()[: Path(ckpt).stat().st_size // 2])
    for model, workers in ((garbage, "1"), (cut, "1"), (cut, "2")):
        out = tmp_path / f"r{workers}"
        line = one_line_error(dt_eval(root, model, out, "--workers", workers, "--sequences", NAMES[0]))
        said = "is corrupt" if model == garbage else "is cut short ("   # an interrupted download, named as one
        assert f"'{model}' {said}" in line, line
        assert not out.exists()


def test_another_runs_tracker_options_are_named_as_options(tmp_path):
    """A results folder of an --official run, resumed with other tracker options, named the recorded dicts
    ("tracker_overrides: {'size_lr': None, 'reacq_factor': None, ...") cut at 80 characters; it names the options."""
    from droptrack.eval.resume import check_manifest
    from droptrack.runtime.extensions import KEYS, OFFICIAL

    out = tmp_path / "r"
    out.mkdir()
    base = {"artifact": "m.onnx", "artifact_sha256": "ab" * 32, "dataset": "synth", "realtime": None}
    official = {KEYS[k][0]: None for k in OFFICIAL}
    check_manifest(out, {**base, "tracker_overrides": official}, "cpu", {"s1": "f1"})
    (out / "s1.txt").write_text("1,2,3,4\n")
    for now, words in (({"size_lr": 0.5, "scale_search": [0.8, 1.2]}, "now --scale-search 0.8,1.2 --size-lr 0.5,"),
                       (None, "now the model's own tracker settings,")):
        with pytest.raises(InputError) as e:
            check_manifest(out, {**base, "tracker_overrides": now}, "cpu", {"s1": "f1"}, write=False)
        assert f"(tracker options: --official, {words} from m.onnx)" in str(e.value)
        assert "{" not in str(e.value)
    with_one = {**official, "crop_grid": 0.1}   # --official with one extension given
    check_manifest(out, {**base, "tracker_overrides": official}, "cpu", {"s1": "f1"}, write=False)   # same: resumes
    with pytest.raises(InputError, match=r"tracker options: --official, now --official --crop-grid 0\.1,"):
        check_manifest(out, {**base, "tracker_overrides": with_one}, "cpu", {"s1": "f1"}, write=False)
