"""Output names near the file system's limit on one name (255 bytes on ext4): `dt run -o NAME` with a name of 244
bytes crashed with a traceback ('File name too long') at NAME.resume.json, the resume journal it keeps beside, after
the model had loaded; a name over the limit crashed in the output checks, and --save's NAME.part.mp4 in the video
writer. Each is one line now, before any work, naming the longest name that fits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import cli, one_line_error, square_avi

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

# the journal's longest name: '.' NAME '.resume.' 6 digits '.npz.' 8 random characters '.tmp' (a template, written
# atomically through mkstemp): NAME + 1 + 8 + 6 + 4 + 1 + 8 + 4 bytes
JOURNAL_EXTRA = 32


@pytest.fixture
def clip(tmp_path) -> Path:
    return square_avi(tmp_path / "clip.avi", 4)


@pytest.fixture
def limit(tmp_path) -> int:
    try:
        return int(os.pathconf(tmp_path, "PC_NAME_MAX"))
    except (OSError, ValueError):
        pytest.skip("the file system does not say its limit on a name")


def _run(clip: Path, ckpt: Path, *args):
    return cli("run", clip, "-m", ckpt, "--device", "cpu", "--init", "10,10,20,20", *args)


def test_a_box_file_whose_journal_name_is_too_long(clip, tiny_ckpt, tmp_path, limit):
    out = tmp_path / ("b" * (limit - 15) + ".txt")   # fits; NAME.resume.json (12 bytes more) does not
    line = one_line_error(_run(clip, tiny_ckpt, "-o", out))
    assert f"'{out.name}.resume.json' ({limit + 1} bytes)" in line, line
    assert f"pass a name of at most {limit - JOURNAL_EXTRA} bytes" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]
    fits = tmp_path / ("b" * (limit - JOURNAL_EXTRA - 4) + ".txt")
    res = _run(clip, tiny_ckpt, "-o", fits)
    assert res.exit_code == 0, res.output
    assert len(fits.read_text().splitlines()) == 4


def test_a_name_over_the_limit(clip, tiny_ckpt, tmp_path, limit):
    out = tmp_path / ("j" * (limit - 5) + ".jsonl")
    line = one_line_error(_run(clip, tiny_ckpt, "--jsonl", out))
    assert f"this one has {limit + 1}; pass a name of at most" in line, line


def test_a_video_whose_part_name_is_too_long(clip, tiny_ckpt, tmp_path, limit):
    out = tmp_path / ("v" * (limit - 4) + ".mp4")   # exactly the limit; NAME.part.mp4 is 5 bytes more
    line = one_line_error(_run(clip, tiny_ckpt, "--save", out))
    assert f".part.mp4' ({limit + 5} bytes)" in line and f"at most {limit - 5} bytes" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]


@pytest.mark.parametrize("where", ["source", "model", "output folder", "doctor"])
def test_a_folder_or_input_name_over_the_limit_is_one_line(clip, tiny_ckpt, tmp_path, limit, where):
    """A name over the limit anywhere else in a path (the source, the model, a folder of an output, dt doctor's
    ARTIFACT) crashed with a traceback: 'OSError: [Errno 36] File name too long' from the first check that looked."""
    long = tmp_path / ("n" * (limit + 10))
    args = {"source": ("run", long, "--init", "10,10,20,20"),
            "model": ("run", clip, "-m", f"{long}.onnx", "--init", "10,10,20,20"),
            "output folder": ("run", clip, "-m", tiny_ckpt, "--init", "10,10,20,20", "-o", long / "b.txt"),
            "doctor": ("doctor", f"{long}.onnx")}[where]
    line = one_line_error(cli(*args))
    assert "longer than this file system allows" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]


def test_the_error_keeps_a_name_with_a_newline_on_one_line(tmp_path, limit):
    """The exception's own text is one line (a script's name may hold a newline), as the output checks' are."""
    from droptrack.errors import InputError
    from droptrack.runtime.checks import check_name_length

    with pytest.raises(InputError) as err:
        check_name_length("--output", tmp_path / ("a\nb" + "c" * limit), [])
    assert "\n" not in str(err.value) and "a\\nb" in str(err.value), err.value
    with pytest.raises(InputError) as err:
        check_name_length("--output", tmp_path / "a\nb.txt", ["a\nb.txt" + "x" * limit])
    assert "\n" not in str(err.value), err.value
