"""`dt bench --resume` after a killed bench of several artifacts: a changed setting is refused before any row is
timed or tracked, so no row's folder gets results of the changed settings and the original command still resumes."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from droptrack.config import load_config
from droptrack.data import generate_synth
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from helpers import cli


def dt(*args) -> object:
    """`dt` in-process with one thread."""
    return cli(*args, "--threads", "1")


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """Two checkpoints benched on 2x8 frames, then the state a kill -9 leaves when the first row had tracked one
    sequence and the second none: (first ckpt, second ckpt, data, output, the complete bench's bench.json)."""
    d = tmp_path_factory.mktemp("bench_resume")
    cfg = load_config("tiny_ce_test")
    ckpts = []
    for seed, name in ((0, "a.pt"), (1, "b.pt")):
        torch.manual_seed(seed)
        ckpts.append(save_checkpoint(d / name, build_model(cfg).eval(), cfg))
    data = generate_synth(d / "synth", sequences=2, frames=8, seed=0, size=(96, 72), split="val")
    out = d / "out"
    res = dt("bench", *ckpts, "--data", data, "--output", out, "--tracker", "kcf")
    assert res.exit_code == 0, res.output
    whole = json.loads((out / "bench.json").read_text())
    shutil.rmtree(out / "results" / "b")
    shutil.rmtree(out / "results" / "kcf")
    for f in (out / "results" / "a").glob("synth_val_00002*"):
        f.unlink()
    return ckpts[0], ckpts[1], data, out, whole


@pytest.mark.parametrize("changed", [["--frames", "5"], ["--size-lr", "0.5"]])
def test_resume_with_a_changed_setting_is_refused_before_any_row_runs(killed, changed):
    a, b, data, out, _ = killed
    before = (out / "bench.json").read_bytes()
    res = dt("bench", a, b, "--data", data, "--output", out, "--tracker", "kcf", "--resume", *changed)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert str(out / "results" / "a") in lines[0] and "drop --resume" in lines[0]
    # the rows without results were not tracked with the changed setting, and the report is the earlier one
    assert sorted(p.name for p in (out / "results").iterdir()) == ["a"]
    assert (out / "bench.json").read_bytes() == before


def test_resume_on_another_data_set_is_refused_before_any_row_runs(killed, tmp_path):
    """Resumed onto another --data with other sequence names, each row folder got the new set's files beside the
    killed bench's (one folder, two sets, which dt analyze of it scores as one), exit 0."""
    a, b, data, out, _ = killed
    before = (out / "bench.json").read_bytes()
    other = generate_synth(tmp_path / "other", sequences=2, frames=8, seed=5, size=(96, 72), split="train")
    res = dt("bench", a, b, "--data", other, "--output", out, "--tracker", "kcf", "--resume")
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert f"{out / 'results' / 'a'} holds results of synth_val_00001, which this bench does not run" in lines[0]
    assert sorted(p.name for p in (out / "results").iterdir()) == ["a"]
    assert sorted(p.name for p in (out / "results" / "a").glob("*.txt")) == ["synth_val_00001.txt",
                                                                             "synth_val_00001_time.txt"]
    assert (out / "bench.json").read_bytes() == before


def test_a_tracker_given_twice_is_refused(killed):
    line = [ln for ln in dt("bench", "--tracker", "kcf", "--tracker", "kcf", "--data", killed[2],
                            "--output", killed[3] / "twice").output.splitlines() if ln.strip()]
    assert line == ["error: --tracker kcf is given twice; pass each tracker once"], line


def test_the_original_command_then_resumes_and_scores_as_the_whole_bench(killed):
    a, b, data, out, whole = killed
    for changed in (["--frames", "5"], ["--size-lr", "0.5"]):   # the refused attempts first, whatever the order
        assert dt("bench", a, b, "--data", data, "--output", out, "--tracker", "kcf", "--resume",
                  *changed).exit_code == 2
    res = dt("bench", a, b, "--data", data, "--output", out, "--tracker", "kcf", "--resume")
    assert res.exit_code == 0, res.output
    js = json.loads((out / "bench.json").read_text())
    evals = {r["name"]: r["eval"] for r in js["rows"]}
    assert evals["a"]["resumed"] == 1 and evals["a"]["tracked"] == 1
    assert evals["b"]["resumed"] == 0 and evals["b"]["tracked"] == 2
    assert [r["accuracy"] for r in js["rows"]] == [r["accuracy"] for r in whole["rows"]]


def test_opencv_rows_of_a_gpu_bench_run_on_the_cpu(tmp_path):
    """`dt bench model.engine --device cuda --tracker kcf`: the kcf row was always 'failed' ('--device apply to a
    model; --tracker kcf is an OpenCV tracker'), as dt eval refuses --device for a classic tracker; with --resume the
    bench was refused outright. OpenCV's trackers run on the CPU whatever --device the models use."""
    from droptrack.data import get_sequences
    from droptrack.eval.bench_options import BenchOptions
    from droptrack.eval.bench_rows import baseline_row, check_resume

    data = generate_synth(tmp_path / "synth", sequences=1, frames=6, seed=0, size=(96, 72), split="val")
    seqs = get_sequences("synth", data, split="val")
    opts = BenchOptions([], output_dir=tmp_path / "out", device="cuda", threads=1, progress=False, resume=True)
    row = baseline_row("kcf", "kcf", seqs, "synth", opts)   # the options as check_options leaves them on a GPU
    assert row.status == "passed" and row.reason == "" and row.result.sequences == [seqs[0].name]
    check_resume([], [], [("kcf", "kcf")], seqs, "synth", opts)   # its folder is this run's: no refusal


def test_a_second_bench_into_the_folder_is_refused_and_stale_temp_files_go(killed):
    """A bench killed mid-write left `.bench.json.<random>.tmp` in its folder for good, and two benches into one
    folder both wrote its report; now the folder is locked while a bench runs and the next bench removes the debris
(the lock file included: a bench that ends leaves none)."""
    import fcntl

    a, b, data, out, _ = killed
    stale = out / ".bench.json.k3x9_q2z.tmp"
    stale.write_text('{"half": ')
    with open(out / ".lock", "w") as fh:   # what a running bench holds
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        res = dt("bench", a, b, "--data", data, "--output", out, "--tracker", "kcf", "--resume")
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert res.exit_code == 2 and len(lines) == 1 and "is writing to" in lines[0], res.output
        assert stale.exists()   # may be the running bench's own file: untouched
    res = dt("bench", a, b, "--data", data, "--output", out, "--tracker", "kcf", "--resume")
    assert res.exit_code == 0, res.output
    assert not stale.exists() and json.loads((out / "bench.json").read_text())["rows"]
    assert not list(out.rglob(".lock"))   # the lock file the killed bench left is reused and removed, and so are its own


def test_an_output_inside_another_benchs_results_is_refused(killed):
    """-o OUT/results/a/sub was accepted and written; OUT's own rerun then refused a folder it had not written."""
    a, b, data, out, _ = killed
    for inside in (out / "results" / "a" / "sub", out / "results"):
        lines = [ln for ln in dt("bench", "--tracker", "kcf", "--data", data, "--output", inside).output.splitlines()
                 if ln.strip()]
        assert lines == [f"error: --output '{inside}' is inside the results of the dt bench in '{out}'; pass a "
                         "folder outside it"], lines
    assert not (out / "results" / "a" / "sub").exists()


def test_a_file_at_the_references_row_name_is_refused_before_work(killed, tmp_path):
    """results/reference (or a noise floor's results/reference_noise_0.5px) as a file: the reference row failed after
    the work (exit 1) naming dt eval's --name, or the noise floor was left out with a note (exit 0)."""
    a, b, data, out, _ = killed
    for name in ("reference", "reference_noise_0.5px"):
        where = tmp_path / name / "o"
        (where / "results").mkdir(parents=True)
        (where / "results" / name).write_text("x\n")
        lines = [ln for ln in dt("bench", a, "--reference", b, "--data", data, "--output", where,
                                 "--noise-floor", "0.5").output.splitlines() if ln.strip()]
        assert lines == [f"error: '{where / 'results' / name}' (where dt bench keeps its per-row results) is a file; "
                         "move it away, or pass another --output"], lines
        assert (where / "results" / name).read_text() == "x\n"
