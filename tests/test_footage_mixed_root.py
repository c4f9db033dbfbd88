"""A root of one's own footage holding both clips (clip.mp4 + clip.txt) and frame folders (<seq>/ + groundtruth.txt):
`dt eval --dataset video` tracked the clips and `--dataset folder` the frame folders, each leaving the other kind out
without a word, though --help reads 'or a folder of them'. Each now says in one warning line what it left out and
which --dataset reads it."""

from __future__ import annotations

import shlex
import warnings

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from droptrack.data import get_sequences  # noqa: E402
from droptrack.errors import PartialDatasetWarning  # noqa: E402
from tests.helpers import cli, img, text  # noqa: E402


def _clip(path, frames: int = 4) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()


def _mixed(root) -> None:
    root.mkdir()
    _clip(root / "clip.mp4")
    text(root / "clip.txt", "10,10,20,20\n" * 4)
    for i in range(1, 5):
        img(root / "walk" / f"{i:04d}.jpg", size=(64, 48))
    text(root / "walk" / "groundtruth.txt", "10,10,20,20\n" * 4)


def _read(kind: str, root, names=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seqs = get_sequences(kind, root, names=names)
    return [s.name for s in seqs], [str(w.message) for w in caught if issubclass(w.category, PartialDatasetWarning)]


def test_each_reader_names_what_it_leaves_out(tmp_path):
    root = tmp_path / "mine"
    _mixed(root)
    assert _read("video", root) == (["clip"], [f"{root} also holds 1 frame folder (walk), which --dataset video leaves "
                                               f"out; --dataset folder --root {root} reads it"])
    assert _read("folder", root) == (["walk"], [f"{root} also holds 1 video file (clip.mp4), which --dataset folder "
                                                f"leaves out; --dataset video --root {root} reads it"])
    assert _read("video", root, ["clip"]) == (["clip"], [])   # picked on purpose


def test_a_root_of_one_kind_is_not_warned_about(tmp_path):
    root = tmp_path / "mine"
    _mixed(root)
    (root / "clip.mp4").unlink()
    assert _read("folder", root) == (["walk"], [])
    one = tmp_path / "walk_only"
    (root / "walk").rename(one)
    _clip(root / "clip.mp4")
    assert _read("video", root) == (["clip"], [])
    assert _read("folder", one) == (["walk_only"], [])   # a single sequence folder


def test_dt_eval_prints_it_as_one_line(tmp_path):
    root = tmp_path / "mine"
    _mixed(root)
    res = cli("eval", "--dataset", "folder", "--root", root, "--tracker", "kcf", "-o", tmp_path / "res")
    assert res.exit_code == 0, res.output
    assert [ln for ln in res.output.splitlines() if ln.startswith("warning:")] == [
        f"warning: {root} also holds 1 video file (clip.mp4), which --dataset folder leaves out; --dataset video "
        f"--root {root} reads it"]


@pytest.mark.parametrize("command", ["eval", "bench"])
def test_a_root_of_clips_only_read_as_frames_names_the_reader_of_clips(tmp_path, command):
    """A folder of clips only, given to dt bench --data (or dt eval --dataset folder), said 'no images under ...; give
    a folder of frames', though dt eval --dataset video and dt bench --data video read it. The line now names those,
    and the named command reads it."""
    root = tmp_path / "my clips"
    root.mkdir()
    _clip(root / "clip.mp4")
    text(root / "clip.txt", "10,10,20,20\n" * 4)
    how = ["eval", "--dataset", "folder", "--root"] if command == "eval" else ["bench", "--data"]
    res = cli(*how, root, "--tracker", "kcf", "-o", tmp_path / "res")
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert res.output == (f"error: no images under {root}, but it holds video files (clip.mp4); read it as a folder "
                          f"of clips: dt eval --dataset video --root '{root}', dt bench --data video --root '{root}'\n")
    said = shlex.split(res.output.split("clips: ")[1].split(", ")[0 if command == "eval" else 1])
    res = cli(*said[1:], "--tracker", "kcf", "-o", tmp_path / "res2")
    assert res.exit_code == 0, res.output


def test_a_frame_folder_without_its_groundtruth_in_a_synth_root_is_named(tmp_path):
    """One's own set in the synth layout without list.txt reads the folders that hold a groundtruth.txt; a folder of
    frames copied in without one was left out without a word (and `--sequences` then said it was not in the set)."""
    from droptrack.errors import DatasetError

    root = tmp_path / "own"
    for name in ("cam_a", "cam_b", "cam_c"):
        for i in range(1, 4):
            img(root / name / f"{i:08d}.jpg", size=(64, 48))
        if name != "cam_c":
            text(root / name / "groundtruth.txt", "10,10,20,20\n" * 3)
    (root / "notes").mkdir()   # a folder without frames is none of the set's business
    (root / "notes" / "a.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"1 folder\(s\) of frames without a groundtruth.txt \(cam_c\)"):
        get_sequences("synth", root)
    text(root / "cam_c" / "groundtruth.txt", "10,10,20,20\n" * 3)
    assert [s.name for s in get_sequences("synth", root)] == ["cam_a", "cam_b", "cam_c"]
