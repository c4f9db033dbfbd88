"""A TrackingNet chunk folder given as the root (--root .../TrackingNet/TEST or .../TRAIN_0, with anno/ and frames/
in it, as a GOT-10k split folder is accepted) was refused with 'TrackingNet folder .../TEST/TEST is missing; extract
the test chunks under the root', though every file was there. It is now read as the chunk it is; another split asked
of it is refused naming the parent folder to give instead."""

import json
from pathlib import Path

from helpers import cli, img, one_line_error, text


def _chunk(root: Path, chunk: str) -> Path:
    for i in range(4):
        img(root / chunk / "frames" / "seqA" / f"{i}.jpg", size=(64, 48))
    text(root / chunk / "anno" / "seqA.txt", "10.0,10.0,20.0,20.0\r\n" * 4)
    return root / chunk


def test_a_chunk_folder_as_root_is_scored_as_that_chunk(tmp_path: Path) -> None:
    chunk = _chunk(tmp_path / "TrackingNet", "TRAIN_0")
    res = tmp_path / "res"
    # frame 0 is replaced by the GT; frame 1 exact; frame 2 a miss; frame 3 shifted by 10 px: IoU 200/600 = 1/3
    text(res / "seqA.txt", "0,0,1,1\n10,10,20,20\n40,40,5,5\n20,10,20,20\n")
    out = cli("analyze", res, "--dataset", "trackingnet", "--root", chunk, "-o", tmp_path / "an")
    assert out.exit_code == 0, out.output
    scores = json.loads((tmp_path / "an" / "report.json").read_text())["trackers"][0]["scores"]
    # devkit: IoU >= t over linspace(0, 1, 21), trapezoidal area. IoUs 1, 1, 0, 1/3: 4/4 at t = 0, 3/4 for
    # t = 0.05 .. 0.30 (6 points), 2/4 for t = 0.35 .. 1.0 (14 points)
    values = [1.0] + [0.75] * 6 + [0.5] * 14
    assert abs(scores["success"] - 0.05 * (sum(values) - (values[0] + values[-1]) / 2)) < 1e-12
    same = cli("analyze", res, "--dataset", "trackingnet", "--split", "TRAIN_0", "--root", tmp_path / "TrackingNet",
               "-o", tmp_path / "an2")
    assert same.exit_code == 0, same.output
    assert json.loads((tmp_path / "an2" / "report.json").read_text())["trackers"][0]["scores"] == scores


def test_another_split_of_a_chunk_folder_names_the_parent(tmp_path: Path) -> None:
    chunk = _chunk(tmp_path / "TrackingNet", "TRAIN_0")
    text(tmp_path / "res" / "seqA.txt", "10,10,20,20\n" * 4)
    line = one_line_error(cli("analyze", tmp_path / "res", "--dataset", "trackingnet", "--split", "test",
                              "--root", chunk, "-o", tmp_path / "an"))
    assert line == (f"error: TrackingNet split test was asked for, but {chunk} is the TRAIN_0 chunk folder (anno/ and "
                    f"frames/ in it); point the root at {tmp_path / 'TrackingNet'}, the folder that holds TEST/ and "
                    "TRAIN_0/ ... TRAIN_11/")


def test_the_test_chunk_as_root_is_tracked_into_a_submission(tmp_path: Path) -> None:
    chunk = tmp_path / "TrackingNet" / "TEST"
    for i in range(3):
        img(chunk / "frames" / "tseq" / f"{i}.jpg", size=(64, 48))
    text(chunk / "anno" / "tseq.txt", "10,10,20,20\n")
    out = cli("eval", "--dataset", "trackingnet", "--root", chunk, "--tracker", "mosse", "-o", tmp_path / "out")
    assert out.exit_code == 0, out.output
    rows = (tmp_path / "out" / "mosse" / "tseq.txt").read_text().splitlines()
    assert len(rows) == 3 and rows[0] == "10\t10\t20\t20"
    assert (tmp_path / "out" / "mosse" / "trackingnet_submit.zip").is_file()
