"""Frames whose extension is upper case (00000001.JPG: some copies of a dataset, Windows tools) are not the frames the
benchmark names (00000001.jpg; the official loaders open that name, and Linux tells the two apart). dt eval said
'frame ... is missing; re-download or re-extract this sequence', a download of tens of GB that changes nothing; the
refusal now names the file that is there and the rename that fixes it (which is then checked to work)."""

import subprocess
from pathlib import Path

from helpers import cli, img, one_line_error, text


def _rename_as_told(line: str) -> None:
    """Run the shell command the error line ends with."""
    command = line.split("rename the frames: ", 1)[1].rstrip(")")
    command = command.split("); the other results", 1)[0]
    subprocess.run(["bash", "--norc", "--noprofile", "-c", command], check=True)


def test_lasot_upper_case_jpg_is_named_with_the_rename(tmp_path: Path) -> None:
    seq = tmp_path / "lasot" / "airplane" / "airplane-1"
    for i in range(1, 4):
        img(seq / "img" / f"{i:08d}.JPG")
    text(seq / "groundtruth.txt", "2,2,6,6\n" * 3)
    text(seq / "full_occlusion.txt", "0,0,0\n")
    text(seq / "out_of_view.txt", "0,0,0\n")
    args = ("eval", "--dataset", "lasot", "--root", tmp_path / "lasot", "--sequences", "airplane-1",
            "--tracker", "mosse", "-o", tmp_path / "out")
    line = one_line_error(cli(*args))
    assert "00000001.jpg is missing, but 00000001.JPG is there" in line
    assert "re-download" not in line
    _rename_as_told(line)
    assert sorted(p.name for p in (seq / "img").iterdir()) == ["00000001.jpg", "00000002.jpg", "00000003.jpg"]
    res = cli(*args)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "mosse" / "airplane-1.txt").read_text().splitlines()[0] == "2\t2\t6\t6"


def test_otb_upper_case_jpg_is_named_with_the_rename(tmp_path: Path) -> None:
    seq = tmp_path / "otb" / "Bolt"
    for i in range(1, 4):
        img(seq / "img" / f"{i:04d}.JPG")
    text(seq / "groundtruth_rect.txt", "2,2,6,6\n" * 3)
    line = one_line_error(cli("eval", "--dataset", "otb", "--root", tmp_path / "otb", "--sequences", "Bolt",
                              "--tracker", "mosse", "-o", tmp_path / "out"))
    assert "Bolt/img/0001.jpg is missing, but 0001.JPG is there" in line
    _rename_as_told(line)
    assert sorted(p.name for p in (seq / "img").iterdir()) == ["0001.jpg", "0002.jpg", "0003.jpg"]


def test_trackingnet_test_chunk_upper_case_jpg_is_named_with_the_rename(tmp_path: Path) -> None:
    """A TEST sequence counts its .jpg files: with 0.JPG ... it said 'frame folder ... is empty; re-extract TEST'."""
    chunk = tmp_path / "trackingnet" / "TEST"
    for i in range(3):
        img(chunk / "frames" / "seq_a" / f"{i}.JPG")
    text(chunk / "anno" / "seq_a.txt", "2,2,6,6\n")
    args = ("eval", "--dataset", "trackingnet", "--root", tmp_path / "trackingnet", "--sequences", "seq_a",
            "--tracker", "mosse", "-o", tmp_path / "out")
    line = one_line_error(cli(*args))
    assert "seq_a/0.jpg is missing, but 0.JPG is there" in line and "is empty" not in line
    _rename_as_told(line)
    assert sorted(p.name for p in (chunk / "frames" / "seq_a").iterdir()) == ["0.jpg", "1.jpg", "2.jpg"]
    res = cli(*args)
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "out" / "mosse" / "seq_a.txt").read_text().splitlines()) == 3


def test_a_frame_missing_in_every_case_still_says_re_download(tmp_path: Path) -> None:
    from droptrack.data.sequence import missing_frame

    img(tmp_path / "00000002.jpg")
    assert str(missing_frame(tmp_path / "00000001.jpg")) == (
        f"frame {tmp_path / '00000001.jpg'} is missing; re-download or re-extract this sequence")
