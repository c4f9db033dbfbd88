"""`dt eval --dataset got10k_val` titled its table, plots and report.json with the short tag ('got10k: ...', 'Success
plot on got10k'), while `dt analyze` of the same results titles them with the name given ('got10k_val', which says
the split). dt eval now uses the name given too: the two reports of one result folder read the same."""

from __future__ import annotations

import json

import cv2
import pytest

from helpers import cli, drifting_clip, text

pytestmark = pytest.mark.usefixtures("no_data_env", "one_thread")   # conftest.py


def _title(output: str) -> str:
    return next(ln.strip() for ln in output.splitlines() if "got10k-toolkit, 1/1 sequence" in ln)


def test_dt_eval_names_the_dataset_as_dt_analyze_does(tmp_path):
    got = tmp_path / "got10k"
    seq = got / "val" / "GOT-10k_Val_000001"
    seq.mkdir(parents=True)
    (tmp_path / "png").mkdir()
    for i, frame in enumerate(sorted(drifting_clip(tmp_path / "png", 3).iterdir()), 1):   # GOT-10k's frame names
        cv2.imwrite(str(seq / f"{i:08d}.jpg"), cv2.imread(str(frame)))
    text(seq / "groundtruth.txt", "30,22,26,20\n" * 3)
    text(got / "val" / "list.txt", "GOT-10k_Val_000001\n")
    ev = cli("eval", "--dataset", "got10k_val", "--root", got, "--tracker", "kcf", "-o", tmp_path / "res")
    assert ev.exit_code == 0, ev.output
    an = cli("analyze", tmp_path / "res" / "kcf", "--dataset", "got10k_val", "--root", got, "-o", tmp_path / "an")
    assert an.exit_code == 0, an.output
    assert _title(an.output) == "got10k_val: got10k-toolkit, 1/1 sequence"
    assert _title(ev.output) == _title(an.output), ev.output
    evaluated = json.loads((tmp_path / "res" / "kcf" / "report.json").read_text())
    analyzed = json.loads((tmp_path / "an" / "report.json").read_text())
    assert evaluated["dataset"] == analyzed["dataset"] == "got10k_val"
