"""`dt run ... --overwrite` onto an earlier run's complete --output / --jsonl / --save files, stopped by a full disk
(a file-size limit: tests/disk_limits.py): the earlier files stay under their names byte for byte (they were replaced
by the new run's cut ones), the new run's whole lines stay in NAME.part (the video in NAME.part.EXT), the one-line
error names both, and with room again --resume finishes the files as an uninterrupted run writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from disk_limits import dt_limited
from helpers import cli, drifting_clip

INIT = "30,22,26,20"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """120 frames of a textured square drifting over noise (96x72 PNGs)."""
    return drifting_clip(tmp_path_factory.mktemp("clip"), 120)


def _run_args(source: Path, ckpt: Path, init: str, outputs: list[str]) -> list[str]:
    return ["run", str(source), "--checkpoint", str(ckpt), "--device", "cpu", "--threads", "1", "--init", init,
            *outputs]


def _error_line(p) -> str:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert lines[-1].startswith("error: no room left writing"), p.stderr
    return lines[-1]


def _is_cut_prefix(part: Path, whole: bytes, total: int) -> None:
    """`part` holds whole lines only, fewer than `total`, and they are the first lines of the complete file."""
    data = part.read_bytes()
    assert data.endswith(b"\n") and 0 < data.count(b"\n") < total, (part, data.count(b"\n"))
    assert whole.startswith(data), part


# the jsonl's records (about 110 bytes each) reach 6000 bytes first; the box lines alone (about 11 bytes each)
# reach 1200 bytes at about frame 109, while the journal (just over 1000 bytes since it records the engine) still fits
@pytest.mark.parametrize("names,limit", [(["b.txt", "b.jsonl"], 6000), (["b.jsonl"], 6000), (["b.txt"], 1200)],
                         ids=["output-and-jsonl", "jsonl", "output"])
def test_a_full_disk_keeps_the_earlier_complete_files_and_resumes(clip, tiny_ckpt, tmp_path, names, limit):
    flags = {".txt": "--output", ".jsonl": "--jsonl"}
    outputs = [arg for n in names for arg in (flags[Path(n).suffix], str(tmp_path / n))]
    args = _run_args(clip, tiny_ckpt, INIT, outputs)
    assert cli(*args).exit_code == 0
    earlier = {n: (tmp_path / n).read_bytes() for n in names}
    assert all(len(v.splitlines()) == 120 for v in earlier.values())

    line = _error_line(dt_limited([*args, "--overwrite"], limit, tmp_path))
    for n in names:
        part = tmp_path / f"{n}.part"
        assert (tmp_path / n).read_bytes() == earlier[n], f"{n}: the earlier complete file was replaced"
        _is_cut_prefix(part, earlier[n], 120)
        assert str(part) in line and str(tmp_path / n) in line, line   # where the new lines and the earlier file are
    assert "kept as" in line and line.endswith("once there is room, continue with the same command with --resume in "
                                               "place of --overwrite"), line

    assert cli(*args, "--resume").exit_code == 0   # the same run: its files are the earlier ones, byte for byte
    assert {n: (tmp_path / n).read_bytes() for n in names} == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)   # no .part, no journal left


def test_a_journal_the_full_disk_refuses_keeps_the_earlier_box_file(clip, tiny_ckpt, tmp_path):
    """Under 250 bytes the resume journal (about 850 bytes) is refused on the first frame: the run stopped there and
    the earlier 120-line box file was replaced by the new run's one line."""
    args = _run_args(clip, tiny_ckpt, INIT, ["--output", str(tmp_path / "b.txt")])
    assert cli(*args).exit_code == 0
    earlier = (tmp_path / "b.txt").read_bytes()
    line = _error_line(dt_limited([*args, "--overwrite"], 250, tmp_path))
    assert (tmp_path / "b.txt").read_bytes() == earlier
    _is_cut_prefix(tmp_path / "b.txt.part", earlier, 120)
    assert f"stay in {tmp_path / 'b.txt.part'} (the earlier {tmp_path / 'b.txt'} kept as it was)" in line, line
    assert cli(*args, "--overwrite").exit_code == 0   # with room again a new run replaces both
    assert (tmp_path / "b.txt").read_bytes() == earlier and not (tmp_path / "b.txt.part").exists()


def test_a_video_that_fills_the_disk_keeps_the_earlier_box_file_and_video(tiny_ckpt, tmp_path):
    """--save fills the disk first: the video stayed NAME.part.EXT, but the box file's cut lines replaced the earlier
    complete box file; now both stay unfinished beside the earlier ones, and --resume (without --save) finishes the
    box file."""
    from droptrack.data.media import bundled_video

    out = ["--output", str(tmp_path / "b.txt"), "--save", str(tmp_path / "v.avi")]
    args = [*_run_args(bundled_video("carphone_pristine.mp4"), tiny_ckpt, "60,40,40,50", out), "--max-frames", "60"]
    assert cli(*args).exit_code == 0
    earlier = {n: (tmp_path / n).read_bytes() for n in ("b.txt", "v.avi")}
    line = _error_line(dt_limited([*args, "--overwrite"], 20000, tmp_path))
    assert {n: (tmp_path / n).read_bytes() for n in earlier} == earlier
    _is_cut_prefix(tmp_path / "b.txt.part", earlier["b.txt"], 60)
    assert 0 < (tmp_path / "v.part.avi").stat().st_size <= 20000
    assert (f"stay in {tmp_path / 'b.txt.part'}, {tmp_path / 'v.part.avi'} (the earlier {tmp_path / 'b.txt'}, "
            f"{tmp_path / 'v.avi'} kept as they were)") in line, line
    assert cli(*args[:args.index("--save")], *args[args.index("--save") + 2:], "--resume").exit_code == 0
    assert (tmp_path / "b.txt").read_bytes() == earlier["b.txt"] and not (tmp_path / "b.txt.part").exists()
