"""`dt bench` given an ONNX graph that no `dt export` wrote (another tool's graph: no droptrack metadata) or one of a
newer droptrack (a schema_version this one does not read) benched every other row, wrote its report and then ended
with exit 1 naming that graph as a 'failed' row; `dt run`, `dt eval` and `dt doctor` refuse such a file as bad input.
It is now refused the same way, exit 2, before any row runs. A graph with sound metadata that ONNX Runtime cannot
load stays a failed row (tests/test_bench_probe_session.py)."""

from __future__ import annotations

import pytest

from droptrack.config import load_config, meta_from_config
from helpers import cli, identity_graph, one_line_error

onnx = pytest.importorskip("onnx")


def _graph(path, schema_version=None):
    """The tracker's inputs and outputs through Identity nodes; droptrack metadata only with `schema_version`."""
    meta = meta_from_config(load_config("tiny_ce_test"))
    model = identity_graph(meta)
    if schema_version is not None:
        for k, v in meta.to_strings().items():
            model.metadata_props.add(key=k, value=str(schema_version) if k == "droptrack.schema_version" else v)
    onnx.save(model, str(path))
    return path


def test_a_graph_without_droptrack_metadata_is_refused_before_any_row(tiny_ckpt, tmp_path):
    graph = _graph(tmp_path / "other.onnx")
    out = tmp_path / "out"
    line = one_line_error(cli("bench", tiny_ckpt, graph, "--sequences", 1, "--frames", 3, "--threads", 1,
                              "-o", out))
    assert line == (f"error: '{graph}' has no droptrack metadata (not exported by `dt export`); re-export it with "
                    "`dt export CHECKPOINT`"), line
    assert not out.exists()   # no row benched, no report written
    assert one_line_error(cli("doctor", graph)) == line   # as dt doctor refuses it


def test_a_graph_of_a_newer_droptrack_is_refused_before_any_row(tiny_ckpt, tmp_path):
    graph = _graph(tmp_path / "newer.onnx", schema_version=2)
    out = tmp_path / "out"
    line = one_line_error(cli("bench", tiny_ckpt, graph, "--sequences", 1, "--frames", 3, "--threads", 1,
                              "-o", out))
    assert "newer.onnx" in line and "schema_version 2" in line and "upgrade droptrack" in line, line
    assert not out.exists()
