"""User-level audit of dt eval / analyze: bad options give one line and exit code 2 before work; outputs, next
commands and printed paths as the user gave them."""

from __future__ import annotations

import re

from droptrack.cli import app
from helpers import cli, one_line_error, runner


def test_eval_model_of_the_wrong_kind(tmp_path):
    """dt eval -m notes.txt drew a progress bar and made OUTPUT/notes/eval.json before failing to load the file;
    now it is refused (one line) before anything is written, as dt run and dt bench do."""
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model\n")
    for model in (notes, tmp_path):
        line = one_line_error(cli("eval", "--dataset", "synth", "--root", data, "-m", model, "-o", tmp_path / "res"))
        assert "not a model" in line
    assert not (tmp_path / "res").exists()


def test_analyze_output_holding_eval_or_bench_results(tmp_path):
    """dt analyze --output OUT/bench (or a dt eval tracker folder) silently replaced that command's report.json and
    success/precision plots with its own; now it is refused and the files are untouched."""
    from droptrack.data import generate_synth
    from droptrack.eval.results import write_result

    data = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    res = tmp_path / "res"
    res.mkdir()
    write_result(res / "synth_val_00001.txt", [[10, 10, 20, 20]] * 4)
    for marker in ("eval.json", "bench.json"):
        other = tmp_path / marker.split(".")[0]
        other.mkdir()
        (other / marker).write_text("{}")
        (other / "report.json").write_text('{"mine": 1}')
        line = one_line_error(cli("analyze", res, "--dataset", "synth", "--root", data, "--output", other))
        assert marker in line and (other / "report.json").read_text() == '{"mine": 1}'
        assert sorted(p.name for p in other.iterdir()) == [marker, "report.json"]
    assert cli("analyze", res, "--dataset", "synth", "--root", data, "--output", tmp_path / "an").exit_code == 0


def test_analyze_output_inside_the_dataset_root(tmp_path):
    """dt analyze --dataset folder --root DIR --output DIR/an put its plots in the dataset, which dt eval then read
    as a sequence without ground truth (and failed on); dt eval and dt bench already refused such an output."""
    from droptrack.data import generate_synth
    from droptrack.eval.results import write_result

    data = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    res = tmp_path / "res"
    res.mkdir()
    write_result(res / "synth_val_00001.txt", [[10, 10, 20, 20]] * 4)
    before = sorted(p.name for p in data.iterdir())
    for dataset in ("folder", "synth"):
        line = one_line_error(cli("analyze", res, "--dataset", dataset, "--root", data, "--output", data / "an"))
        assert "inside the dataset root" in line
    assert sorted(p.name for p in data.iterdir()) == before


def test_eval_says_when_threads_oversubscribe(tiny_ckpt, tmp_path, monkeypatch):
    """dt eval --threads N x --workers W above the usable cores ran oversubscribed (stalls, FPS off) without a word:
    the thread plan's reason ('oversubscribed, expect stalls') was computed and dropped; now the summary says it."""
    import droptrack.engine.threads as threads
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    monkeypatch.setattr(threads, "usable_cores", lambda: 1)
    res = cli("eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt, "--threads", 2, "-o", tmp_path / "r")
    assert res.exit_code == 0, res.output
    assert "threads: --threads 2 x 1 worker(s) > 1 usable cores: oversubscribed" in res.output
    res = cli("eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt, "--threads", 1, "-o", tmp_path / "r2")
    assert res.exit_code == 0 and "threads:" not in res.output   # another folder: r's results used 2 threads


def test_eval_counts_the_workers_that_start_not_the_ones_asked_for(tiny_ckpt, tmp_path, monkeypatch):
    """--workers 10000 on 2 sequences starts 2 workers: the note said '1 x 10000 worker(s) > 2 usable cores:
    oversubscribed', which did not happen."""
    import droptrack.engine.threads as threads
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=2, frames=3, seed=0, size=(96, 72), split="val")
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    res = cli("eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt, "--threads", 1, "--workers", 10000,
              "-o", tmp_path / "r")
    assert res.exit_code == 0, res.output
    assert "oversubscribed" not in res.output and "10000 worker" not in res.output, res.output


def test_eval_empty_sequences_list(tmp_path):
    """dt eval --sequences '' (an empty shell variable) or ',' tracked every sequence of the dataset."""
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    for value in ("", ",", " , "):
        line = one_line_error(cli("eval", "--dataset", "synth", "--root", data, "--sequences", value,
                                  "-o", tmp_path / "r"))
        assert ("--sequences names no sequence" in line if value else   # '': refused as an empty argument
                "--sequences is given an empty value" in line)
    assert not (tmp_path / "r").exists()


def test_eval_names_only_the_bad_count(tmp_path):
    """dt eval --workers 0 said '--workers 0 / --threads None: use 1 or more', naming an option not given."""
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    base = ("eval", "--dataset", "synth", "--root", data, "-o", tmp_path / "r")
    assert one_line_error(cli(*base, "--workers", 0)) == "error: --workers 0: use 1 or more"
    assert one_line_error(cli(*base, "--threads", -1)) == "error: --threads -1: use 1 or more"


def test_eval_prints_a_next_command_that_runs(tiny_ckpt, tmp_path, monkeypatch):
    """dt eval ended without the next command (the project's rule for every command); it now prints the dt analyze
    line for its folder, and that line, pasted as it is, scores the same sequences."""
    import shlex

    from droptrack.data import generate_synth

    monkeypatch.chdir(tmp_path)
    data = generate_synth(tmp_path / "my set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    res = cli("eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt, "-o", tmp_path / "r")
    assert res.exit_code == 0, res.output
    nxt = [ln for ln in res.output.splitlines() if ln.startswith("next: ")]
    assert len(nxt) == 1
    argv = shlex.split(nxt[0][len("next: "):])
    assert argv[:2] == ["dt", "analyze"]
    again = runner.invoke(app, argv[1:])
    assert again.exit_code == 0 and "1/1 sequence" in again.output and "1/1 sequences" not in again.output, again.output


def test_eval_video_without_ground_truth(tiny_ckpt, tmp_path, video):
    """dt eval --dataset video --root clip.mp4 (no clip.txt) tracked nothing, failed after starting with 'fix the
    first line of the sequence's annotation file' (there is none) and left OUTPUT/tiny/eval.json; now one line
    before any work, saying where the boxes go."""
    line = one_line_error(cli("eval", "--dataset", "video", "--root", video, "-m", tiny_ckpt, "-o", tmp_path / "r"))
    assert "has no ground truth" in line and "beside a video" in line and "annotation file" not in line
    assert not (tmp_path / "r").exists()


def test_paths_with_brackets_are_printed_as_they_are(tiny_ckpt, tmp_path, monkeypatch):
    """rich read '[old]' in 'runs[old]/' and '[fp16]' in a tracker name as markup and dropped them: dt eval printed
    'results: .../runs/tiny' and a next command for a folder that does not exist (dt export's, dt bench's lines too)."""
    import shlex

    from droptrack.data import generate_synth

    monkeypatch.chdir(tmp_path)
    data = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    out = tmp_path / "runs[old]"
    res = cli("eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt, "-o", out, "--name", "tiny[fp16]")
    assert res.exit_code == 0, res.output
    assert f"results: {out / 'tiny[fp16]'}" in res.output and "│ tiny[fp16] " in res.output
    nxt = next(ln for ln in res.output.splitlines() if ln.startswith("next: "))
    assert shlex.split(nxt[len("next: "):])[2] == str(out / "tiny[fp16]")
    # dt analyze's per-attribute and difference tables name the tracker as it is too
    (data / "synth_val_00001" / "attributes.txt").write_text("camouflage\n")
    import shutil

    twin = shutil.copytree(out, tmp_path / "copy" / out.name) / "tiny[fp16]"   # the same folder twice is refused
    ana = cli("analyze", out / "tiny[fp16]", twin, "--dataset", "synth", "--root", data, "--output",
              tmp_path / "an")
    assert ana.exit_code == 0, ana.output
    tables = ana.output[ana.output.index("per attribute"):]
    # per-attribute headers, as wide as the names (the backslashes of escaped markup no longer counted)
    assert "┃ runs[old]/tiny[fp16]#0 ┃ runs[old]/tiny[fp16]#1 ┃" in tables, ana.output
    # the same results twice: no per-sequence differences, said in a line that names them as they are
    assert "runs[old]/tiny[fp16]#0 and runs[old]/tiny[fp16]#1 have the same AUC on every sequence" in tables
    from rich.console import Console

    from droptrack.eval.attributes_view import difference_table

    console = Console(width=120, record=True)
    console.print(difference_table([{"sequence": "s[1]", "a[x]": 0.5, "b[y]": 0.25, "diff": 0.25}], "a[x]", "b[y]",
                                   "auc"))
    text = console.export_text()
    # the names as they are (not read as markup); the columns are padded to the title's width (helper 293's fix)
    assert re.search(r"┃ Sequence +┃ +a\[x\] +┃ +b\[y\] +┃", text) and re.search(r"│ s\[1\] +│", text), text
    assert "Diff = a[x] - b[y]" in text


def test_eval_tracker_refuses_model_options(tmp_path):
    """dt eval --tracker csrt --config X / --device cuda ran CSRT and silently ignored them (OpenCV's trackers run on
    the CPU and have no config); now one line before any work."""
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    for args, words in ((("--config", "tiny_ce_test"), "--config applies to a model"),
                        (("--device", "cuda"), "--device applies to a model")):
        line = one_line_error(cli("eval", "--dataset", "synth", "--root", data, "--tracker", "csrt", *args, "-o",
                                  tmp_path / "r"))
        assert words in line and "--tracker csrt" in line
    assert not (tmp_path / "r").exists()


def test_split_that_selects_nothing_is_refused(tmp_path):
    """dt eval / dt analyze --split train on a synthetic val set (one set: synth.json names its split) scored the val
    set under the train name; --split on --dataset folder or video was ignored. Both are one-line errors now; the
    set's own split still runs."""
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    out = tmp_path / "r"
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", data, "--split", "train", "-o", out))
    assert "--split train" in line and "of the val split" in line
    assert "of the val split" in one_line_error(cli("analyze", out, "--dataset", "synth", "--root", data,
                                                    "--split", "train", "--output", tmp_path / "an"))
    for command in (("eval", "-o", out), ("analyze", out, "--output", tmp_path / "an")):
        line = one_line_error(cli(*command, "--dataset", "folder", "--root", data / "synth_val_00001", "--split",
                                  "test"))
        assert "--dataset folder" in line and "has no splits; drop --split" in line
    for name in ("otb", "uav123", "nfs", "tnl2k"):   # one set each: --split was silently ignored
        line = one_line_error(cli("eval", "--dataset", name, "--root", data, "--split", "test", "-o", out))
        assert "--split test" in line and "has no splits" in line and "drop --split" in line
    assert not out.exists() and not (tmp_path / "an").exists()
    res = cli("eval", "--dataset", "synth", "--root", data, "--split", "val", "-o", out)
    assert res.exit_code == 0 and "1 tracked" in res.output, res.output


def test_split_on_a_got10k_split_folder_is_checked(tmp_path):
    """dt eval --dataset got10k --root got10k/val --split test evaluated the val folder as the test split; like a
    synthetic set's (above), a split folder's --split is refused when it names another split, before any work."""
    import cv2
    import numpy as np

    val = tmp_path / "got10k" / "val"
    (val / "GOT-10k_Val_000001").mkdir(parents=True)
    for i in range(1, 4):
        cv2.imwrite(str(val / "GOT-10k_Val_000001" / f"{i:08d}.jpg"), np.full((48, 64, 3), 90, np.uint8))
    (val / "GOT-10k_Val_000001" / "groundtruth.txt").write_text("10,10,20,20\n" * 3)
    (val / "list.txt").write_text("GOT-10k_Val_000001\n")
    out, an = tmp_path / "r", tmp_path / "an"
    line = one_line_error(cli("eval", "--dataset", "got10k", "--root", val, "--split", "test", "-o", out,
                              "-m", tmp_path / "never_read.pt"))
    assert line == (f"error: --split test: {val} is GOT-10k's val split folder (list.txt, no test/ in it); drop "
                    "--split, or point --root at the test folder (or the folder above it)")
    line = one_line_error(cli("analyze", out, "--dataset", "got10k", "--root", val, "--split", "test", "--output", an))
    assert "is GOT-10k's val split folder" in line
    assert not out.exists() and not an.exists()
