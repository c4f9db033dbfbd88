"""dt eval's fingerprint of a sequence (eval.json "inputs") read only its length, init box and first frame: a set
regenerated with other settings but the same first frame (and ground truth file) had its results resumed from the
old set's and mixed with them, and dt analyze scored them against it. Every frame counts now; results an earlier
dt eval recorded (first-frame fingerprints) still resume on the same set."""

from __future__ import annotations

import hashlib
import json
import shutil

from droptrack.data import generate_synth
from helpers import cli, one_line_error

NAMES = ("synth_val_00001", "synth_val_00002")


def _sets(tmp_path):
    """Set `a`, and `b`: a's first frames and ground truth files, its later frames those of another seed's set."""
    a = generate_synth(tmp_path / "a", 2, 8, seed=0, size=(96, 64), split="val")
    other = generate_synth(tmp_path / "other", 2, 8, seed=1, size=(96, 64), split="val")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    for name in NAMES:
        for i in range(2, 9):
            shutil.copyfile(other / name / f"{i:08d}.jpg", b / name / f"{i:08d}.jpg")
    assert all((a / n / "00000001.jpg").read_bytes() == (b / n / "00000001.jpg").read_bytes() for n in NAMES)
    return a, b


def test_a_set_with_other_later_frames_is_refused_not_resumed(tmp_path):
    a, b = _sets(tmp_path)
    out = tmp_path / "r"
    assert cli("eval", "--dataset", "synth", "--root", a, "--tracker", "kcf", "-o", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in (out / "kcf").glob("*.txt")}
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", b, "--tracker", "kcf", "-o", out))
    assert line.startswith(f"error: {out / 'kcf'} holds results of synth_val_0000"), line
    assert "tracked on other frames" in line, line
    assert {p.name: p.read_bytes() for p in (out / "kcf").glob("*.txt")} == before
    line = one_line_error(cli("analyze", out / "kcf", "--dataset", "synth", "--root", b, "-o", tmp_path / "an"))
    assert "tracked on other frames" in line, line
    res = cli("eval", "--dataset", "synth", "--root", a, "--tracker", "kcf", "-o", out)   # its own set: resumed
    assert res.exit_code == 0 and "0 tracked, 2 resumed" in res.output, res.output


def test_results_of_an_earlier_dt_eval_still_resume_on_their_set(tmp_path):
    """eval.json of an earlier dt eval holds sha256("<frames> <first box>" + first frame's bytes)[:16] alone."""
    a, _ = _sets(tmp_path)
    out = tmp_path / "r"
    assert cli("eval", "--dataset", "synth", "--root", a, "--tracker", "kcf", "-o", out).exit_code == 0
    manifest = out / "kcf" / "eval.json"
    data = json.loads(manifest.read_text())
    earlier = {}
    for name in NAMES:
        box = [float(v) for v in (a / name / "groundtruth.txt").read_text().splitlines()[0].split(",")]
        earlier[name] = hashlib.sha256(f"8 {box}".encode() + (a / name / "00000001.jpg").read_bytes()).hexdigest()[:16]
    assert all(data["inputs"][n].startswith(earlier[n] + "-") for n in NAMES), (data["inputs"], earlier)
    manifest.write_text(json.dumps({**data, "inputs": earlier}))
    res = cli("analyze", out / "kcf", "--dataset", "synth", "--root", a, "-o", tmp_path / "an")
    assert res.exit_code == 0, res.output
    res = cli("eval", "--dataset", "synth", "--root", a, "--tracker", "kcf", "-o", out)
    assert res.exit_code == 0 and "0 tracked, 2 resumed" in res.output, res.output
    assert json.loads(manifest.read_text())["inputs"] == data["inputs"]   # recorded in full from now on
