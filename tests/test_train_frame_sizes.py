"""`dt train` on a sequence whose frames differ in size (one frame resized on disk, its box left at the other size)
trained silently on crops cut at the wrong place; it now stops in one line naming the sequence, the odd frame and
both sizes. A set of one size still trains."""

from __future__ import annotations

from pathlib import Path

import cv2

from droptrack.data.synth import generate_synth
from helpers import cli, TINY_TRAIN


def _set(root: Path, odd: list[int]) -> Path:
    """One 20-frame 96x72 synthetic sequence (the fewest frames dt train draws from); frames `odd` halved in size."""
    generate_synth(root, sequences=1, frames=20, seed=0, size=(96, 72))
    for i in odd:
        path = root / "synth_train_00001" / f"{i:08d}.jpg"
        cv2.imwrite(str(path), cv2.resize(cv2.imread(str(path)), (48, 36)))
    return root


def test_a_resized_frame_stops_training_in_one_line(tmp_path):
    data = _set(tmp_path / "data", odd=list(range(2, 21, 2)))   # every other frame: any pair of gap 1 mixes sizes
    result = cli("train", "--config", "tiny_ce_test", "--output", tmp_path / "run", "--data", data, *TINY_TRAIN)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"error: training sequence synth_train_00001: frame {data / 'synth_train_00001'}/"), line
    odd = line.split(": frame ", 1)[1].split(" ", 1)[0]
    assert int(Path(odd).stem) % 2 == 0, line   # the resized one is named, not its partner of the first frame's size
    assert " is 48x36, its frame " in line and " 96x72; a sequence's frames must share one size" in line, line
    assert line.endswith("resize that frame to 96x72, or move the sequence out of the training data"), line
    assert not (tmp_path / "run" / "final.pt").exists()


def test_frames_of_one_size_train(tmp_path):
    data = _set(tmp_path / "data", odd=[])
    result = cli("train", "--config", "tiny_ce_test", "--output", tmp_path / "run", "--data", data, *TINY_TRAIN)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "final.pt").is_file()
