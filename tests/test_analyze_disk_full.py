"""dt analyze over an earlier complete report whose disk fills up while it writes the plots (a file-size limit that
the radar plot, the largest, does not fit: tests/disk_limits.py): the plots written before the radar replaced the
earlier ones, and the folder held the earlier report.json and radar beside the new success, precision and bar plots,
a set mixed from two runs. Now every file is written before any is moved into place: the earlier set stays as it
was byte for byte, the one line says so, and the rerun with room writes what an uninterrupted run writes."""

from __future__ import annotations

from pathlib import Path

from disk_limits import dt_limited
from droptrack.data.synth import generate_synth
from helpers import cli


def _results(root: Path, folder: Path, shift: int) -> Path:
    """The ground truth as a tracker's result files, every box moved `shift` px right (0: the ground truth)."""
    folder.mkdir(parents=True)
    for seq in sorted(p for p in root.iterdir() if (p / "groundtruth.txt").is_file()):
        rows = [ln.split(",") for ln in (seq / "groundtruth.txt").read_text().split()]
        (folder / f"{seq.name}.txt").write_text("".join(f"{float(r[0]) + shift:.1f},{','.join(r[1:])}\n"
                                                        for r in rows))
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_full_disk_while_writing_plots_keeps_the_earlier_set_whole(tmp_path):
    root = generate_synth(tmp_path / "set", sequences=3, frames=30, seed=0, size=(320, 180), split="val",
                          attributes="all")   # 3+ attributes: a radar plot, the largest file
    earlier_run, new_run = _results(root, tmp_path / "a" / "gt", 0), _results(root, tmp_path / "b" / "shifted", 12)
    out = tmp_path / "out"
    assert cli("analyze", earlier_run, "--dataset", "synth", "--root", root, "-o", out).exit_code == 0
    earlier = _files(out)
    assert "attributes_radar.png" in earlier
    args = ["analyze", str(new_run), "--dataset", "synth", "--root", str(root), "-o"]
    assert cli(*args, tmp_path / "ref").exit_code == 0   # the new run, uninterrupted
    ref = _files(tmp_path / "ref")
    limit = 60000
    assert max(len(v) for n, v in ref.items() if n != "attributes_radar.png") < limit < len(ref["attributes_radar.png"])

    p = dt_limited([*args, str(out)], limit, tmp_path)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert _files(out) == earlier   # not one new plot beside the earlier report.json, no temporaries left
    assert lines[0].startswith(f"error: no room left writing '{out / 'attributes_radar.png'}' (File too large)")
    assert lines[0].endswith(f"the earlier report and plots in '{out}' are kept as they were"), lines[0]

    r = cli(*args, out)
    assert r.exit_code == 0, r.output
    assert _files(out) == ref
