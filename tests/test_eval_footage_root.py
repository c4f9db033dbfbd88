"""`dt eval --dataset folder` (or video) of two roots wrote both into one results folder (results/folder/<tracker>):
the second root's run resumed the first's results of a sequence of the same name as its own (one's own footage
names its sequences cam1, clip...; a fingerprint of its first frame and length does not tell two cuts apart), and
left the first root's other results beside its own. eval.json now records one's own footage's root, and a run of
another root into that folder is refused, naming both roots and the fix (--name, or another --output)."""

from __future__ import annotations

import json
import os
import shutil

from helpers import cli, drifting_clip, one_line_error


def footage(root, *names):
    """`root` holding a 6-frame sequence folder (frames + groundtruth.txt) per name, each the same clip."""
    for name in names:
        seq = root / name
        seq.mkdir(parents=True)
        drifting_clip(seq, 6)
        (seq / "groundtruth.txt").write_text("30,22,26,20\n" * 6)
    return root


def run(root, out, *extra):
    return cli("eval", "--dataset", "folder", "--root", root, "--tracker", "kcf", "--workers", 1, "-o", out, *extra)


def test_a_second_root_is_refused_in_the_first_roots_folder(tmp_path):
    a = footage(tmp_path / "site a", "cam1", "cam2")
    b = footage(tmp_path / "site b", "cam1", "cam3")   # its cam1: the same first frame and length as a's
    out = tmp_path / "results" / "folder"
    first = run(a, out)
    assert first.exit_code == 0, first.output
    before = sorted(p.name for p in (out / "kcf").iterdir())
    line = one_line_error(run(b, out))
    roots = f"(root: '{os.path.realpath(a)}', now '{os.path.realpath(b)}'"   # whole paths, however long
    assert f"{out / 'kcf'} holds results of another run {roots}" in line, line
    assert "--name" in line and "--output" in line, line
    assert sorted(p.name for p in (out / "kcf").iterdir()) == before   # nothing tracked or written there
    named = run(b, out, "--name", "kcf_site_b")   # the fix it names
    assert named.exit_code == 0 and "2 tracked, 0 resumed" in named.output, named.output


def test_the_same_root_resumes_and_an_older_record_without_one_is_kept(tmp_path):
    a = footage(tmp_path / "a", "cam1")
    out = tmp_path / "out"
    assert run(a, out).exit_code == 0
    again = run(tmp_path / "a" / ".." / "a", out)   # the same folder, spelt otherwise
    assert again.exit_code == 0 and "0 tracked, 1 resumed" in again.output, again.output
    manifest = out / "kcf" / "eval.json"
    data = json.loads(manifest.read_text())
    assert data["root"] == os.path.realpath(a)
    del data["root"]   # as an older dt eval wrote it: not known, so not refused
    manifest.write_text(json.dumps(data))
    shutil.copytree(a, tmp_path / "moved")
    moved = run(tmp_path / "moved", out)
    assert moved.exit_code == 0 and "0 tracked, 1 resumed" in moved.output, moved.output
