"""A file where dt eval or dt bench makes a tracker's results folder (OUTPUT/<name>, OUTPUT/results/<row>): one line,
exit 2, before any tracking, and the file kept (dt eval ended in a FileExistsError traceback; dt bench ran its
reference, then failed the row with exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from droptrack.data.synth import generate_synth
from helpers import cli, one_line_error


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return generate_synth(tmp_path_factory.mktemp("set") / "val", sequences=1, frames=4, seed=0, size=(96, 72),
                          split="val")


def test_eval_results_folder_that_is_a_file(tiny_ckpt, synth, tmp_path):
    out = tmp_path / "ev"
    out.mkdir()
    (out / "tiny").write_text("my notes\n")   # dt eval's folder for tiny.pt is OUTPUT/tiny
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", synth, "--split", "val", "-m", tiny_ckpt,
                              "--output", out))
    assert line == (f"error: '{out / 'tiny'}' (this tracker's results folder in --output) is a file; move it away, or "
                    "pass another --output or --name")
    assert (out / "tiny").read_text() == "my notes\n"


@pytest.mark.parametrize("where", ["results", "results/tiny"])
def test_bench_row_folder_that_is_a_file(tiny_ckpt, synth, tmp_path, where):
    out = tmp_path / "b"
    (out / where).parent.mkdir(parents=True, exist_ok=True)
    (out / where).write_text("my notes\n")
    line = one_line_error(cli("bench", tiny_ckpt, "--data", synth, "--output", out))
    assert line == (f"error: '{out / where}' (where dt bench keeps its per-row results) is a file; move it away, or "
                    "pass another --output")
    assert (out / where).read_text() == "my notes\n" and not (out / "bench.json").exists()
