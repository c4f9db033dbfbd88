"""`dt export --keep-fp32 PATTERN` with a pattern that matches no node was refused only once the FP32 graph had
replaced model.onnx (and the INT8 calibration had run); the patterns are now checked against the
graph's node names as soon as it is built, before any file of the folder is replaced and before calibration."""

from __future__ import annotations

import pytest

from helpers import cli, one_line_error

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_pattern_matching_no_node_replaces_no_file_and_calibrates_nothing(tiny, tmp_path, monkeypatch,
                                                                           tiny_fp32_export):
    from droptrack.export import calibration

    def no_calibration(*a, **k):
        raise AssertionError("calibrated before the --keep-fp32 patterns were checked")

    monkeypatch.setattr(calibration, "calibration_pairs", no_calibration)
    out = tmp_path / "out"
    out.mkdir()
    earlier = (tiny_fp32_export / "model.onnx").read_bytes()   # an earlier export's graph (another's is refused)
    (out / "model.onnx").write_bytes(earlier)
    r = cli("export", tiny[0], "--fp16", "--int8", "--int8-target", "trt", "--keep-fp32",
            "/box_haed/", "-o", out)
    lines = [ln for ln in r.output.splitlines() if ln.startswith("error: ")]   # after the log's 'loaded ...'
    assert r.exit_code == 2 and len(lines) == 1 and "Traceback" not in r.output, r.output
    assert "--keep-fp32 '/box_haed/' matches no node of the graph; did you mean --keep-fp32 '/box_head/'?" in lines[0]
    assert (out / "model.onnx").read_bytes() == earlier
    assert [p.name for p in out.iterdir()] == ["model.onnx"]


def test_a_refused_pattern_leaves_no_folder_the_export_made(tiny, tmp_path):
    """`dt export --keep-fp32 nomatch -o kf2` left a new, empty kf2/ behind (and its new parents); a folder that was
    there before is kept."""
    r = cli("export", tiny[0], "--fp16", "--keep-fp32", "nomatch", "-o", tmp_path / "kf2" / "deep")
    assert r.exit_code == 2 and "--keep-fp32 'nomatch' matches no node" in r.output, r.output
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "mine").mkdir()
    r = cli("export", tiny[0], "--fp16", "--keep-fp32", "nomatch", "-o", tmp_path / "mine")
    assert r.exit_code == 2 and (tmp_path / "mine").is_dir() and list((tmp_path / "mine").iterdir()) == []
