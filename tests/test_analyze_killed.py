"""dt analyze killed by SIGKILL while it writes report.json: the same command run again leaves exactly the files an
uninterrupted run writes (no `.report.json.<random>.tmp` of the killed run), and the killed run's `.lock` (held
while it writes) neither refuses the rerun nor stays behind."""

from __future__ import annotations

import shutil
import signal

from droptrack.data.synth import generate_synth
from helpers import cli, dt_killed_at_replace

# The child (helpers.dt_killed_at_replace) kills itself at os.replace onto report.json (the last file dt analyze writes), before the rename.


def test_rerun_after_a_kill_at_report_json_leaves_no_temporary(tmp_path):
    root = generate_synth(tmp_path / "set", sequences=2, frames=4, seed=0, size=(64, 64), split="val")
    res = tmp_path / "res" / "gt"
    res.mkdir(parents=True)
    for seq in ("synth_val_00001", "synth_val_00002"):   # the ground truth as a tracker's result files
        shutil.copy(root / seq / "groundtruth.txt", res / f"{seq}.txt")
    args = ["analyze", str(res), "--dataset", "synth", "--root", str(root), "-o"]
    assert cli(*args, tmp_path / "ref").exit_code == 0
    out = tmp_path / "out"
    proc = dt_killed_at_replace("report.json", *args, out, MPLBACKEND="Agg")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert any(p.name.startswith(".report.json.") for p in out.iterdir()), "the hook did not fire where intended"
    assert (out / ".lock").exists(), "killed while it holds the output folder's lock: its lock file stays"
    r = cli(*args, out)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (tmp_path / "ref").iterdir())


def test_rerun_with_other_plots_after_a_run_killed_before_its_report_leaves_none_of_its_plots(tmp_path):
    """A first dt analyze into a fresh --output killed before report.json (its success, precision and normalized
    precision plots written) and a rerun that draws fewer (GOT-10k's toolkit: success only): the killed run's
    precision plots stayed beside the rerun's report.json, whose `plots` does not name them (stale plots were
    only removed where an earlier report.json was there). Now the rerun's folder holds what an uninterrupted run's
    holds, byte for byte."""
    root = generate_synth(tmp_path / "set", sequences=2, frames=4, seed=0, size=(64, 64), split="val")
    res = tmp_path / "res" / "gt"
    res.mkdir(parents=True)
    for seq in ("synth_val_00001", "synth_val_00002"):
        shutil.copy(root / seq / "groundtruth.txt", res / f"{seq}.txt")
    args = ["analyze", str(res), "--dataset", "synth", "--root", str(root), "-o"]
    out = tmp_path / "out"
    proc = dt_killed_at_replace("report.json", *args, out, MPLBACKEND="Agg")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert {"precision.png", "norm_precision.png"} <= {p.name for p in out.iterdir()}, "the killed run drew them"
    toolkit = ["--protocol", "got10k-toolkit"]
    assert cli(*args, tmp_path / "ref", *toolkit).exit_code == 0
    r = cli(*args, out, *toolkit)
    assert r.exit_code == 0, r.output
    ref = {p.name: p.read_bytes() for p in (tmp_path / "ref").iterdir()}
    got = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(got) == sorted(ref)
    assert {n: v for n, v in got.items() if n.endswith(".png")} == {n: v for n, v in ref.items() if n.endswith(".png")}
