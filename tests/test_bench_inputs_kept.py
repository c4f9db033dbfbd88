"""An input where `dt bench` writes or deletes is refused before any work, in one line (exit 2), and kept: the
synthetic set it makes in the output folder removed another set's sequence folders (a checkpoint kept in one went
with it), and an .onnx graph's external data files were not checked at all (one named like a report file was
replaced by it)."""

from __future__ import annotations

import shutil

from helpers import cli, one_line_error
from test_eval_external_data import graph_with_external_weights


def test_an_artifact_in_the_synthetic_set_it_makes_is_refused_and_kept(tiny_ckpt, tmp_path):
    out = tmp_path / "out"
    folder = out / "synth_val_1x3" / "synth_val_00002"   # a leftover sequence of a larger set
    folder.mkdir(parents=True)
    ckpt = shutil.copy(tiny_ckpt, folder / "tiny.pt")
    res = cli("bench", ckpt, "--sequences", "1", "--frames", "3", "--threads", "1", "--output", out)
    assert one_line_error(res) == (f"error: artifact '{ckpt}' is where dt bench writes the synthetic set it makes in "
                                   f"--output '{out}', so it would be replaced or deleted; move it, or pass another "
                                   "--output")
    assert (folder / "tiny.pt").read_bytes() == tiny_ckpt.read_bytes()


def test_external_data_at_a_report_file_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    graph = graph_with_external_weights(out, "latency.png")
    (out / "w.bin").rename(out / "latency.png")   # the graph's weights file, under the name of dt bench's plot
    weights = (out / "latency.png").read_bytes()
    res = cli("bench", graph, "--tracker", "kcf", "--sequences", "1", "--frames", "3", "--output", out)
    line = one_line_error(res)
    assert line.startswith(f"error: the external data of '{graph}' '{out / 'latency.png'}' is where dt bench writes "
                           "its latency.png"), line
    assert (out / "latency.png").read_bytes() == weights and not (out / "bench.json").exists()


def test_external_data_in_a_row_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    (out / "results" / "m").mkdir(parents=True)
    graph = graph_with_external_weights(out, "results/m/w.bin")
    shutil.move(out / "w.bin", out / "results" / "m" / "w.bin")
    res = cli("bench", graph, "--sequences", "1", "--frames", "3", "--output", out)
    assert "is where dt bench writes its per-row results" in one_line_error(res)
    assert (out / "results" / "m" / "w.bin").is_file()
