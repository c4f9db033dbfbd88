"""A `dt export` into the folder of the graphs a `dt bench` was benching replaced them: bench.json then paired the
new graph's numbers with the old one's sha256, and the gates judged a file no longer there. A row whose file is not
the one it was benched as now fails, saying so."""

from __future__ import annotations

import json
import shutil

from helpers import cli

from droptrack.data import generate_synth
from droptrack.eval import bench


def test_a_graph_rewritten_while_benched_fails_its_row(onnx_model, tiny_ckpt, tmp_path, monkeypatch):
    graph = tmp_path / "exp" / "model.onnx"
    graph.parent.mkdir()
    shutil.copy(onnx_model, graph)
    synth = generate_synth(tmp_path / "s", sequences=1, frames=4, seed=0, size=(160, 120), split="val")
    real = bench._evaluate_timed

    def exported_meanwhile(row, *a, **k):   # as a dt export writing the folder during the row's pass
        result = real(row, *a, **k)
        if row.artifact == str(graph):
            graph.write_bytes(graph.read_bytes() + b"\0")
        return result

    monkeypatch.setattr(bench, "_evaluate_timed", exported_meanwhile)
    res = cli("bench", graph, "--reference", tiny_ckpt, "--data", synth, "--threads", "1", "-o", tmp_path / "out")
    assert res.exit_code == 1, res.output
    row = json.loads((tmp_path / "out" / "bench.json").read_text())["rows"][0]
    assert row["status"] == "failed" and "was rewritten while it was benched" in row["reason"], row
