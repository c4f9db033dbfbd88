"""A table saved as UTF-16 (Windows PowerShell 5's `python track.py > seq.txt`, Notepad's 'Unicode') was refused as
'not a table of numbers (got '\ufffd\ufffd1\\x000\\x00...')' naming neither the encoding nor the fix. Result, annotation
and label files in UTF-16 are now refused naming it and the conversion, which the test runs and then scores."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import cli, img, one_line_error, text


def _lasot(root: Path, gt_encoding: str = "utf-8") -> Path:
    seq = root / "airplane" / "airplane-1"
    for i in range(1, 5):
        img(seq / "img" / f"{i:08d}.jpg")
    (seq / "groundtruth.txt").write_text("10,10,20,20\r\n" * 4, encoding=gt_encoding, newline="")
    text(seq / "full_occlusion.txt", "0,0,0,0\n")
    text(seq / "out_of_view.txt", "0,0,0,0\n")
    return seq


def test_utf16_result_file_is_named_and_the_conversion_works(tmp_path: Path) -> None:
    _lasot(tmp_path / "lasot")
    res = tmp_path / "res" / "airplane-1.txt"
    res.parent.mkdir()
    res.write_text("10\t10\t20\t20\r\n" * 4, encoding="utf-16", newline="")
    args = ("analyze", res.parent, "--dataset", "lasot", "--root", tmp_path / "lasot", "--sequences", "airplane-1",
            "-o", tmp_path / "an")
    out = cli(*args)
    assert f"{res}: UTF-16 text (as Windows PowerShell's > redirect" in out.output
    assert f"iconv -f UTF-16 -t UTF-8 '{res}' > NEW.txt" in out.output
    if shutil.which("iconv") is None:
        pytest.skip("needs iconv to run the conversion named")
    converted = subprocess.run(["iconv", "-f", "UTF-16", "-t", "UTF-8", str(res)], capture_output=True, check=True)
    res.write_bytes(converted.stdout)
    out = cli(*args)
    assert out.exit_code == 0, out.output
    scores = json.loads((tmp_path / "an" / "report.json").read_text())["trackers"][0]["scores"]
    assert scores["auc"] == pytest.approx(20 / 21, abs=1e-12)   # every frame IoU 1; t = 1 fails under IoU > t


def test_utf16_annotation_is_one_line_naming_it(tmp_path: Path) -> None:
    seq = _lasot(tmp_path / "lasot", gt_encoding="utf-16")
    text(tmp_path / "res" / "airplane-1.txt", "10\t10\t20\t20\n" * 4)
    line = one_line_error(cli("analyze", tmp_path / "res", "--dataset", "lasot", "--root", tmp_path / "lasot",
                              "--sequences", "airplane-1", "-o", tmp_path / "an"))
    assert line.startswith(f"error: {seq / 'groundtruth.txt'}: UTF-16 text")
    assert "convert it to UTF-8" in line
