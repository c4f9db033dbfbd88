"""`dt export CKPT` ends with `next: dt bench GRAPHS`; dt bench finds a graph's checkpoint beside the graph or as the
embedded model only, so for `dt export runs/mine/final.pt` (written elsewhere) the line as printed failed with
'cannot find the checkpoint model.onnx was exported from'. It now names the checkpoint as --reference."""

from __future__ import annotations

import shlex

from helpers import cli


def test_the_bench_hint_names_a_checkpoint_kept_elsewhere_and_runs(exported, tiny, tmp_path, monkeypatch):
    out, res = exported
    line = next(ln for ln in res.output.splitlines() if ln.startswith("next: dt bench"))
    words = shlex.split(line.removeprefix("next: "))
    assert words[words.index("--reference") + 1] == str(tiny[0]), line
    monkeypatch.chdir(tmp_path)
    ran = cli(*words[1:], "--sequences", 1, "--frames", 3, "-o", tmp_path / "b")
    assert "cannot find the checkpoint" not in ran.output and ran.exit_code in (0, 1), ran.output   # 1: a gate


def test_a_checkpoint_in_the_export_folder_needs_no_reference(tmp_path, tiny):
    import shutil

    shutil.copy(tiny[0], tmp_path / "model.pt")
    res = cli("export", tmp_path / "model.pt", "-o", tmp_path)
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("next: dt bench"))
    assert "--reference" not in line, line
