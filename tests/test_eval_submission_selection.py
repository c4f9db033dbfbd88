"""`dt eval --sequences A` after a run over A and B rewrote got10k_submit.zip with A alone but left B in the
got10k_submit/ folder beside it: the folder and the zip of one run held different submissions."""

import zipfile

from droptrack.data import generate_synth
from helpers import cli


def test_submission_folder_holds_what_the_zip_holds(tmp_path):
    root = generate_synth(tmp_path / "set", 2, 3, seed=0, size=(96, 64), split="val")
    args = ["eval", "--dataset", "synth", "--root", root, "--output", tmp_path / "out", "--threads", "1"]
    assert cli(*args).exit_code == 0
    rerun = cli(*args, "--sequences", "synth_val_00002")
    assert rerun.exit_code == 0, rerun.output
    out = tmp_path / "out" / "default"
    with zipfile.ZipFile(out / "got10k_submit.zip") as zf:
        zipped = sorted(zf.namelist())
    assert zipped == ["synth_val_00002/synth_val_00002_001.txt", "synth_val_00002/synth_val_00002_time.txt"]
    folder = sorted(p.relative_to(out / "got10k_submit").as_posix() for p in (out / "got10k_submit").rglob("*")
                    if p.is_file())
    assert folder == zipped
    assert (out / "synth_val_00001.txt").is_file()   # the tracked results themselves stay
