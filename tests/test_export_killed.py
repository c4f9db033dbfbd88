"""A killed `dt export` (kill -9 during the INT8 precision search: its `.dt-auto-*` folder holds every candidate
graph, about one model each) left its hidden temp folders and files in the output folder for good: the rerun
resumed from the journal but never removed them. The next export now removes them, holding the folder's lock so
that it never removes a running export's files (a second export into the folder is refused)."""

from __future__ import annotations

import fcntl

import onnx

from helpers import cli as dt


def leftovers(out):
    """What a kill -9 leaves mid-export: temp folders of each step, atomic-write temp files, a half-written graph."""
    made = []
    for d in (".dt-auto-k1ll3d", ".dt-export-abc123", ".dt-fp16-x", ".dt-int8-y"):
        (out / d / ".dt-int8-nested").mkdir(parents=True)
        (out / d / "cand0.onnx").write_bytes(b"\x08\x07 half a graph")
        made.append(out / d)
    for f in (".model_int8_ort.onnx.q9zab1_x.tmp", ".parity.json.r2d2c3po.tmp",
              ".auto_precision/.trials_ort_1.json.s3x_9kq2.tmp"):
        (out / f).parent.mkdir(exist_ok=True)
        (out / f).write_bytes(b"{half")
        made.append(out / f)
    return made


def test_rerun_after_a_kill_removes_the_killed_exports_temp_files_only(tiny_ckpt, tmp_path):
    out = tmp_path / "deploy"
    out.mkdir()
    made = leftovers(out)
    mine = [out / ".dt-notes", out / ".notes.tmp", out / ".auto_precision" / "trials_ort_1.json",
            out / ".notes.txt.k2v8m0pa.tmp"]
    mine[0].mkdir()                                   # not an export's temp folder: a user's, kept
    mine[1].write_text("a user's hidden file")
    mine[3].write_text("another tool's temp file")    # a temp name of a file no export writes: a user's, kept
    mine[2].write_text('{"trials": {}}')              # the search journal itself is what a rerun resumes from
    res = dt("export", tiny_ckpt, "--output", out)
    assert res.exit_code == 0, res.output
    assert [p for p in made if p.exists()] == []
    assert all(p.exists() for p in mine)
    onnx.checker.check_model(onnx.load(str(out / "model.onnx")))


def test_a_second_export_into_a_folder_being_written_is_refused_and_removes_nothing(tiny_ckpt, tmp_path):
    out = tmp_path / "deploy"
    out.mkdir()
    made = leftovers(out)   # here: the running export's files
    with open(out / ".dt-export.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running export holds it
        res = dt("export", tiny_ckpt, "--output", out)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert "another dt export is writing to" in lines[0] and str(out) in lines[0]
    assert all(p.exists() for p in made) and not (out / "model.onnx").exists()


def test_a_damaged_saved_reference_is_tracked_again_not_a_traceback(tiny_ckpt, tmp_path):
    """The search keeps the FP32 graph's validation boxes in `.auto_precision/reference_*.npz`; one cut short (a
    full disk, a copy of the folder stopped halfway) was a zipfile.BadZipFile traceback on every rerun, while a
    damaged journal already meant 'measure those trials again'. Now the boxes are tracked again and saved whole."""
    import json

    import numpy as np

    out = tmp_path / "deploy"
    args = ("export", tiny_ckpt, "--int8", "--int8-target", "ort", "--calib-pairs", 8, "--auto-precision",
            "--val-sequences", 4, "--val-frames", 5, "--max-divergence", 0.25, "--group-by", "kind", "-o", out)
    res = dt(*args)
    assert res.exit_code == 0, res.output
    first = json.loads((out / "auto_precision_ort.json").read_text())
    [saved] = (out / ".auto_precision").glob("reference_*.npz")
    with np.load(saved) as z:
        boxes = {k: z[k] for k in z.files}
    saved.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    res = dt(*args)
    assert res.exit_code == 0, res.output
    again = json.loads((out / "auto_precision_ort.json").read_text())
    assert (again["kept"], again["divergence"]) == (first["kept"], first["divergence"])
    with np.load(saved) as z:
        assert sorted(z.files) == sorted(boxes) and all(np.array_equal(z[k], boxes[k]) for k in boxes)
