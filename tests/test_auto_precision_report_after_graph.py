"""`dt export --int8 --auto-precision` wrote auto_precision_<target>.json as soon as the search ended, before the
graph it describes: a Ctrl-C while that graph was quantized and checked left the new report beside no graph (or
beside an earlier export's graph with other kept groups). The report is now written once its graph is."""

from __future__ import annotations

import pytest

from droptrack.export import pipeline
from helpers import cli


@pytest.mark.slow
def test_ctrl_c_before_the_searched_graph_is_written_leaves_no_report(tiny_ckpt, tmp_path, monkeypatch):
    def stopped(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "export_int8", stopped)   # Ctrl-C right after the search, before the graph
    out = tmp_path / "export"
    r = cli("export", tiny_ckpt, "--int8", "--int8-target", "ort", "--auto-precision", "--val-sequences", 4,
            "--val-frames", 3, "--max-divergence", 0.25, "--group-by", "kind", "-o", out)
    assert r.exit_code == 130, r.output
    assert (out / "model.onnx").is_file() and not (out / "model_int8_ort.onnx").exists()
    assert not (out / "auto_precision_ort.json").exists()   # no report of a graph that is not in the folder
    assert any((out / ".auto_precision").glob("trials_ort_*.json"))   # the rerun resumes from the journal
