"""`dt train` as a user fine-tuning on their own data meets it: a resume with another architecture names the key
(it was reported as 'no intact checkpoint ... delete them'), an empty or misplaced data root names the root and the
layout, a full disk is refused up front or named with the checkpoint to resume from, CE blocks past DEPTH are
refused, SIGTERM says how to resume, the progress line keeps its count at 80 columns, and --pretrained weights of
another shape are named."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest
import torch
import yaml

from exec_with import exec_with
from helpers import cli, files_under

TINY = ["--epochs", "1", "--batch-size", "4", "--samples-per-epoch", "8", "--workers", "0", "--device", "cpu"]


def one_line_error(result) -> str:
    """The error line of a refused run: exit 2, no traceback, one 'error: ' line, the last (training notes such as
    the LR scaling may come before it)."""
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert [ln for ln in lines if ln.startswith("error: ")] == lines[-1:], result.output
    return lines[-1]


def tiny_config(tmp: Path, name: str, **backbone) -> Path:
    """tiny_ce_test with MODEL.BACKBONE entries replaced."""
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    data["MODEL"]["BACKBONE"].update(backbone)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_resume_with_another_architecture_names_the_key_and_keeps_the_checkpoint(tmp_path, synth):
    out = tmp_path / "run"
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY).exit_code == 0
    before = (out / "last.pt").read_bytes()
    narrow = tiny_config(tmp_path, "narrow", EMBED_DIM=32)
    line = one_line_error(cli("train", "-c", narrow, "-o", out, "--data", synth, *TINY, "--epochs", "2", "--resume"))
    assert "it was trained with MODEL.BACKBONE.EMBED_DIM 64, this run has 32" in line, line
    assert "no intact checkpoint" not in line and "delete" not in line, line
    assert (out / "last.pt").read_bytes() == before


def test_a_config_inside_the_output_folder_given_as_config_is_kept_as_written(tmp_path, synth):
    out = tmp_path / "run"
    out.mkdir()
    text = "# my fine-tuning recipe\n" + (resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text()
    (out / "config.yaml").write_text(text)
    assert cli("train", "-c", out / "config.yaml", "-o", out, "--data", synth, *TINY).exit_code == 0
    assert (out / "config.yaml").read_text() == text and (out / "final.pt").is_file()
    result = cli("train", "-c", out / "config.yaml", "-o", out, "--data", synth, *TINY, "--epochs", "2", "--resume")
    assert result.exit_code == 0 and (out / "config.yaml").read_text() == text, result.output


def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path, synth):
    import fcntl

    out = tmp_path / "run"
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--stop-after", "1").exit_code == 0
    assert not (out / ".dt-train.lock").exists()   # a finished run leaves no lock file
    before = files_under(out)
    half = out / ".last.pt.abc123.tmp"   # the running run's checkpoint being written
    half.write_bytes(b"partial")
    with open(out / ".dt-train.lock", "a") as other:   # the running run holds the folder's lock
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--resume"))
    assert line == (f"error: another dt train is writing to '{out}'; wait for it to finish (or stop it) and then run "
                    "again with --resume, or pass another --output"), line
    assert half.read_bytes() == b"partial"   # not removed as a killed run's leftover
    assert {k: v for k, v in files_under(out).items() if k not in (half.name, ".dt-train.lock")} == before
    result = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--resume")   # lock released
    assert result.exit_code == 0 and not half.exists() and (out / "final.pt").is_file(), result.output


def test_empty_wrong_layout_and_sequence_folder_roots_name_the_root(tmp_path, synth, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", tmp_path / "a", "--data", empty, *TINY))
    assert f"training dataset SYNTH: no sequences under '{empty}' (from --data SYNTH={empty})" in line, line
    assert "<seq>/groundtruth.txt + 00000001.jpg" in line and "list.txt optional" in line, line
    seq = synth / "synth_train_00001"
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", tmp_path / "b", "--data", f"SYNTH={seq}", *TINY))
    assert f"'{seq}' (from --data SYNTH={seq}) is one sequence folder; pass the folder above it" in line, line
    monkeypatch.setenv("DT_DATA_SYNTH", str(empty))
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", tmp_path / "c", *TINY))
    assert f"no sequences under '{empty}' (from DT_DATA_SYNTH)" in line, line


def test_a_lasot_root_of_test_split_sequences_only_says_so(tmp_path, synth):
    """cat-1 and cat-3 are LaSOT test sequences, which training leaves out: 'no sequences under ROOT; it should hold
    <class>/<class>-N/...' described the very layout the root had."""
    import shutil

    root = tmp_path / "lasot"
    for n, src in ((1, "synth_train_00001"), (3, "synth_train_00002")):
        seq = root / "cat" / f"cat-{n}"
        shutil.copytree(synth / src, seq / "img", ignore=shutil.ignore_patterns("*.txt", "*.label", "*.ini"))
        shutil.copy(synth / src / "groundtruth.txt", seq / "groundtruth.txt")
        rows = len((seq / "groundtruth.txt").read_text().split())
        for flags in ("full_occlusion.txt", "out_of_view.txt"):
            (seq / flags).write_text(",".join(["0"] * rows))
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    data["DATA"]["TRAIN"]["DATASETS_NAME"] = ["LASOT"]
    (tmp_path / "lasot.yaml").write_text(yaml.safe_dump(data))
    line = one_line_error(cli("train", "-c", tmp_path / "lasot.yaml", "-o", tmp_path / "a", "--data",
                              f"LASOT={root}", *TINY))
    assert line == (f"error: training dataset LASOT: the 2 sequence(s) under '{root}' (from --data LASOT={root}) are "
                    "all in LaSOT's 280-sequence test split, which training leaves out as the official recipe does; "
                    "add training sequences (the other <class>-N) or remove LASOT from DATA.TRAIN.DATASETS_NAME"), line


def test_ce_blocks_past_depth_and_indivisible_heads_are_refused_before_the_output_exists(tmp_path, synth):
    out = tmp_path / "out"
    line = one_line_error(cli("train", "-c", tiny_config(tmp_path, "ce", CE_LOC=[1, 9]), "-o", out, "--data", synth,
                              *TINY))
    assert "MODEL.BACKBONE.CE_LOC [1, 9]" in line and "blocks 0..3" in line, line
    line = one_line_error(cli("train", "-c", tiny_config(tmp_path, "heads", NUM_HEADS=3), "-o", out, "--data", synth,
                              *TINY))
    assert "EMBED_DIM=64 is not divisible by NUM_HEADS=3" in line and "(e.g. 2)" in line, line   # 64 = 2 x 32
    assert not out.exists()


def test_an_unknown_training_dataset_name_is_a_config_error_with_the_closest_name(tmp_path, synth):
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    for wrong, close in (("SYNTHH", "SYNTH"), ("got10k_vottrain", "GOT10K_vottrain"), ("IMAGENET", None)):
        data["DATA"]["TRAIN"]["DATASETS_NAME"] = [wrong]
        (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(data))
        line = one_line_error(cli("train", "-c", tmp_path / "cfg.yaml", "-o", tmp_path / "out", "--data", synth, *TINY))
        assert line.startswith(f"error: DATA.TRAIN.DATASETS_NAME: '{wrong}' is not a training dataset droptrack "
                               "reads; " + (f"did you mean '{close}'?" if close else "valid: LASOT,")), line
    data["DATA"]["TRAIN"]["DATASETS_NAME"] = "SYNTH"   # a string where the list goes
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(data))
    line = one_line_error(cli("train", "-c", tmp_path / "cfg.yaml", "-o", tmp_path / "out", "--data", synth, *TINY))
    assert line == "error: DATA.TRAIN.DATASETS_NAME: 'SYNTH' is not a list; allowed: a list of strings", line
    assert not (tmp_path / "out").exists()


def test_checkpoint_size_estimate_matches_a_written_checkpoint(tmp_path, synth):
    from droptrack.config import load_config
    from droptrack.model import build_model
    from droptrack.train.space import checkpoint_bytes

    out = tmp_path / "run"
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY).exit_code == 0
    size = checkpoint_bytes(build_model(load_config("tiny_ce_test"), training=True))
    assert abs(size - (out / "last.pt").stat().st_size) < 0.05 * size


def test_too_little_free_space_is_refused_before_the_first_iteration(tmp_path, synth, monkeypatch):
    import droptrack.train.space as space

    asked = []
    monkeypatch.setattr(space, "free_bytes", lambda folder: asked.append(folder) or 3 << 20)   # a checkpoint: ~4 MB
    out = tmp_path / "new" / "run"
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY))
    assert f"--output '{out}' has 3.0 MB free, and the first epoch writes 2 checkpoints" in line, line
    assert asked == [tmp_path] and list(tmp_path.iterdir()) == [], list(tmp_path.rglob("*"))   # no folder, no probe
    # into a folder a killed run left (its log kept as it is: not renamed, no config.yaml written, no lock file)
    out.mkdir(parents=True)
    (out / "train.log").write_text("epoch 1 ...\n")
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY))
    assert f"--output '{out}' has 3.0 MB free" in line and asked[-1] == out, line
    assert [p.name for p in out.iterdir()] == ["train.log"] and (out / "train.log").read_text() == "epoch 1 ...\n"


def test_too_little_free_space_on_resume_names_the_epoch_it_resumes_at(tmp_path, synth, monkeypatch):
    import droptrack.train.space as space

    out = tmp_path / "run"
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY).exit_code == 0
    monkeypatch.setattr(space, "free_bytes", lambda folder: 3 << 20)
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2",
                              "--resume"))
    assert "has 3.0 MB free, and the next epoch writes 2 checkpoints" in line, line
    assert "(last.pt, checkpoint_ep0002.pt)" in line, line


def test_a_disk_that_fills_during_a_save_names_the_checkpoint_to_resume_from(tmp_path, synth, monkeypatch):
    import droptrack.train.space as space
    import droptrack.train.trainer as trainer

    real, full = trainer.save_checkpoint, []

    def save(path, *args, **kw):
        if Path(path).name == "checkpoint_ep0002.pt":
            full.append(path)
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 2086336 vs 2086228")
        return real(path, *args, **kw)

    monkeypatch.setattr(trainer, "save_checkpoint", save)
    monkeypatch.setattr(space, "free_bytes", lambda folder: (1 << 20) if full else (1 << 40))
    out = tmp_path / "run"
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2"))
    assert line.startswith(f"error: no space left to write checkpoint checkpoint_ep0002.pt in '{out}' (1.0 MB free")
    assert line.endswith(f"then run the same command with --resume to continue from {out / 'last.pt'}"), line
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 2


def test_a_full_disk_inside_torch_save_names_the_checkpoint_to_resume_from(tmp_path, synth, monkeypatch):
    """The disk fills while torch.save writes epoch 2's last.pt (below save_checkpoint: the write that atomic_write
    turns into its own one-line error); the line still says how to go on once there is room."""
    real = torch.save

    def save(obj, f, *args, **kw):
        if obj.get("epoch") == 2:
            f.write(b"PK partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(obj, f, *args, **kw)

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "run"
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2"))
    assert line.startswith(f"error: no room left writing '{out / 'last.pt'}'"), line
    assert line.endswith(f"once there is room, run the same command with --resume to continue from {out / 'last.pt'}")
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 1 and not list(out.glob(".*.tmp"))


def test_a_failed_save_with_space_left_is_not_reported_as_a_full_disk(tmp_path, synth, monkeypatch):
    import droptrack.train.trainer as trainer

    def save(path, *args, **kw):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(trainer, "save_checkpoint", save)
    result = cli("train", "-c", "tiny_ce_test", "-o", tmp_path / "run", "--data", synth, *TINY)
    assert isinstance(result.exception, OSError) and result.exception.errno == errno.EIO


def test_ctrl_c_inside_torch_save_is_an_interrupt_not_a_zip_writer_traceback(tmp_path, synth, monkeypatch):
    import droptrack.train.trainer as trainer

    real, calls = trainer.save_checkpoint, []

    class Interrupted(io.FileIO):
        """A file whose 5th write is interrupted by Ctrl-C, as a signal that arrives while torch.save writes."""

        writes = 0

        def write(self, b):
            Interrupted.writes += 1
            if Interrupted.writes == 5:
                raise KeyboardInterrupt
            return super().write(b)

    def save(path, *args, **kw):
        calls.append(path)
        if len(calls) == 1:
            return real(path, *args, **kw)
        with Interrupted(str(tmp_path / "partial.pt"), "wb") as f:   # torch's zip writer then fails as it closes
            torch.save({"a": torch.zeros(100000)}, f)

    monkeypatch.setattr(trainer, "save_checkpoint", save)
    out = tmp_path / "run"
    result = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2")
    assert result.exit_code == 130 and "Traceback" not in result.output, (result.exception, result.output)
    assert result.output.splitlines()[-1].startswith(f"interrupted; run the same command with --resume to continue "
                                                     f"from {out / 'last.pt'}"), result.output


def test_progress_line_keeps_bar_count_and_time_left_at_80_columns():
    from rich.console import Console

    from droptrack.train.loop import progress_bar

    for width in (60, 80):
        text = io.StringIO()
        bar = progress_bar(3, 50, console=Console(width=width, file=text))
        with bar:
            bar.add_task("train", total=128, completed=5,
                         info="loss 41.758 giou 1.245 l1 0.278 focal 37.880 lr 1.00e-04 19.83 it/s")
        line = text.getvalue().rstrip()
        assert line.startswith("epoch 3/50 ") and " 5/128 -:--:-- loss 41.758" in line and line.endswith("…"), line
        assert len(line) <= width


def test_pretrained_tracking_checkpoint_of_another_shape_is_named(tmp_path, synth):
    from droptrack.config import load_config
    from droptrack.model import build_model
    from droptrack.model.checkpoint import load_tracking_init

    weights = resources.files("droptrack") / "weights" / "droptrack_tiny_synth.pt"   # width 128; tiny_ce_test: 64
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", tmp_path / "a", "--data", synth, *TINY,
                              "--pretrained", weights))
    assert "backbone.cls_token (1, 1, 128) vs (1, 1, 64) in this config" in line, line
    small = build_model(load_config("tiny_ce_test"), training=True).state_dict()
    big = load_config("tiny_ce_test")
    big.DATA.SEARCH.SIZE = big.TEST.SEARCH_SIZE = 160           # 10 x 10 search tokens instead of 8 x 8
    small["box_head.conv5_ctr.bias"] = torch.zeros(2)   # another shape that cannot be resized: named, not loaded
    rep = load_tracking_init(build_model(big, training=True), small, "small.pt")
    assert rep.wrong_shape == ["box_head.conv5_ctr.bias (2,) vs (1,)"] and rep.unexpected == []
    assert rep.resized == ["backbone.pos_embed_x"]   # the search grid of another crop size: resized (test_model.py)
    assert rep.summary().endswith("; 1 not loaded, of another shape (box_head.conv5_ctr.bias (2,) vs (1,)); "
                                  "resized to this crop size (backbone.pos_embed_x)")


def test_sigterm_to_the_process_group_stops_training_with_the_resume_hint(tmp_path, synth):
    """SIGTERM to dt and its DataLoader worker (systemd's control group, `kill -- -PGID`): it killed dt without a
    word, and a worker that died first ended the run in a 'DataLoader worker is killed' traceback (exit 1)."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "droptrack", "train", "-c", "tiny_ce_test", "-o", str(out), "--data", str(synth),
           "--epochs", "1", "--batch-size", "1", "--samples-per-epoch", "100000", "--workers", "1", "--device", "cpu",
           "--save-interval", "1"]
    log = tmp_path / "dt.txt"
    with open(log, "w") as f:
        dt = subprocess.Popen(exec_with(cmd, default_signals=("TERM",)), stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "last.pt").is_file():   # one iteration done and saved
            assert dt.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        os.killpg(dt.pid, signal.SIGTERM)
        code = dt.wait(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dt.pid, signal.SIGKILL)
        dt.wait()
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    assert code == 143 and "Traceback" not in log.read_text(), log.read_text()
    assert lines[-1] == (f"stopped by SIGTERM; run the same command with --resume to continue from {out / 'last.pt'}"
                         " (saved at each epoch's end, at the iteration a stop signal or Ctrl-C ended, and every N"
                         " iterations with --save-interval N)"), lines[-1]
    assert torch.load(out / "last.pt", weights_only=True)["iteration"] >= 1


def help_text(*command: str) -> str:
    """`dt COMMAND --help` as one line of words (rich's box and line wrapping taken out; wide, so none is cut)."""
    from droptrack.cli import app
    from helpers import runner

    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())


def test_train_help_names_the_dataset_root_variables():
    assert "Without it: DT_DATA_<NAME> (e.g. DT_DATA_LASOT) or $DT_DATA/<name>." in help_text("train")
    # shorter sequences are never sampled (sampler.usable)
    assert "dt train samples pairs only from sequences of >= 20 frames" in help_text("data", "synth")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_leaves_no_output_folder(synth, tmp_path):
    """--device cuda where there is none was refused after the output folder had been made (an empty folder left)."""
    out = tmp_path / "run"
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "--data", f"SYNTH={synth}", "-o", out,
                              *TINY[:-2], "--device", "cuda"))
    assert "CUDA is not available" in line and "--device cpu" in line
    assert not out.exists()


def test_a_resume_with_every_epoch_done_needs_room_for_final_pt_only(tmp_path, synth, monkeypatch):
    # final.pt's write failed on a full disk; once room for it was made, the resume asked for 2 checkpoints of an
    # epoch that will not run (the docs' own route to write only final.pt)
    import droptrack.train.space as space

    out = tmp_path / "run"
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY).exit_code == 0
    weights = (out / "final.pt").read_bytes()
    (out / "final.pt").unlink()
    size = (out / "last.pt").stat().st_size
    monkeypatch.setattr(space, "free_bytes", lambda folder: int(1.5 * size))   # one checkpoint fits, two do not
    res = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--resume")
    assert res.exit_code == 0, res.output
    assert (out / "final.pt").read_bytes() == weights   # the same weights, no further training
    (out / "final.pt").unlink()
    monkeypatch.setattr(space, "free_bytes", lambda folder: size // 4)
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--resume"))
    assert "final.pt (every epoch is done)" in line and "MB free" in line, line


def test_a_folder_at_a_checkpoints_name_is_refused_before_training(tmp_path, synth):
    # last.pt a folder: the resume fell back to the epoch file, trained an epoch, then failed writing last.pt
    out = tmp_path / "run"
    assert cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY).exit_code == 0
    (out / "last.pt").unlink()
    (out / "last.pt").mkdir()
    before = sorted(p.name for p in out.iterdir())
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--epochs", "2",
                              "--resume"))
    assert f"'{out / 'last.pt'}' is a folder where dt train writes a file" in line, line
    assert sorted(p.name for p in out.iterdir()) == before
