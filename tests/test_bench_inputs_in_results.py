"""An input inside OUTPUT/results (where dt bench keeps, and on a rerun deletes, one folder per row) is refused
before any work: `dt export -o out/results/model` then `dt bench out/results/model/model.onnx -o out` wrote the
row's results next to the graph, and the same command run again deleted the folder, model.onnx with it."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
from helpers import cli


def test_an_artifact_in_a_row_folder_is_refused_and_kept(onnx_model, tiny_ckpt, tmp_path):
    out = tmp_path / "out"
    folder = out / "results" / "model"
    folder.mkdir(parents=True)
    graph = shutil.copy(onnx_model, folder / "model.onnx")
    shutil.copy(tiny_ckpt, folder / "tiny.pt")   # its reference, found next to it
    for _ in range(2):   # the second run is the one that deleted it
        res = cli("bench", graph, "--data", "synthetic", "--sequences", "1", "--frames", "3", "--output", out)
        assert res.exit_code == 2, res.output
        assert res.output.strip().splitlines() == [
            f"error: artifact '{graph}' is inside '{out / 'results'}', whose row folders dt bench replaces on the next "
            "run; move it out of there, or pass another --output"]
    assert (folder / "model.onnx").is_file()


def test_data_in_the_results_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    clip = out / "results" / "clips"
    clip.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(clip / f"{i:04d}.jpg"), np.full((48, 64, 3), 40 * i, np.uint8))
    res = cli("bench", "--tracker", "kcf", "--data", clip, "--init", "10,10,20,20", "--output", out)
    assert res.exit_code == 2 and "is inside" in res.output and "Traceback" not in res.output, res.output
