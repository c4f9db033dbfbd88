"""`dt bench --data` pointing at droptrack's own output (a bench folder, its results/ or one row's results, a dt
analyze folder) read its PNG plots as frames; it is refused in one line naming the file that gave it away."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.errors import InputError
from droptrack.eval.bench_data import data_kind
from helpers import cli, one_line_error


def png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((48, 64, 3), 128, np.uint8))


@pytest.mark.parametrize("marker", ["bench.json", "report.json", "eval.json", "results/tiny/eval.json"])
def test_an_output_folder_is_refused_as_data(tmp_path, marker):
    out = tmp_path / "out"
    png(out / "success.png")
    png(out / "precision.png")
    (out / marker).parent.mkdir(parents=True, exist_ok=True)
    (out / marker).write_text("{}")
    data = out / "results" if marker.startswith("results/") else out
    with pytest.raises(InputError, match="is droptrack's own output .*pass the video or frame folder"):
        data_kind(str(data))
    r = cli("bench", tmp_path / "tiny.pt", "--data", data, "--output", tmp_path / "b")
    line = one_line_error(r)
    assert r.exit_code == 2 and "droptrack's own output" in line and str(out / marker) in line, r.output


def test_a_frame_folder_is_still_a_folder(tmp_path):
    for i in range(3):
        png(tmp_path / "clip" / f"{i:04d}.png")
    (tmp_path / "clip" / "notes.json").write_text("{}")
    assert data_kind(str(tmp_path / "clip")) == "folder"
