"""OTB's Tiger1 as OSTrack/pytracking score it starts at image 0006 (initOmit 5: 349 frames, the ground truth's rows
6..354), while the GOT-10k toolkit (and the OTB toolkit) track it from image 0001 and write 354 rows. dt analyze
read such a file as OSTrack's analysis does, cutting the last 5 rows: every box was scored against the ground truth
of the image 5 later (a perfect tracker's AUC 0.3 instead of 95.2), with a note that only said the last rows were
ignored. The first 5 rows are now dropped, with a note saying so; a file of any other length keeps the toolkit's
rule and its note. The ground truth moves one pixel a frame and boxes are 4 px wide, so a misaligned box (5 px off)
never overlaps its frame's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from droptrack.data import get_sequences
from droptrack.eval.report import analyze
from helpers import cli, img, text

PERFECT_AUC = 20 / 21   # IoU 1 on every frame passes the thresholds 0 ... 0.95, not 1.0


def _tiger1(tmp_path: Path) -> Path:
    """An OTB root holding Tiger1's official 354 ground-truth rows (image k: box k,1,4,4) and its first scored image."""
    root = tmp_path / "otb"
    text(root / "Tiger1" / "groundtruth_rect.txt", "".join(f"{k},1,4,4\n" for k in range(1, 355)))
    img(root / "Tiger1" / "img" / "0006.jpg", size=(400, 20))
    return root


def _result(folder: Path, first: int, last: int, sep: str = ",") -> Path:
    """A perfect result file, one row per image first..last (the GOT-10k toolkit writes commas)."""
    text(folder / "Tiger1.txt", "".join(sep.join(map(str, (k, 1, 4, 4))) + "\n" for k in range(first, last + 1)))
    return folder / "Tiger1.txt"


def _note(path: Path, name: str = "Tiger1", rows: int = 354, frames: int = 349, before: int = 5) -> str:
    return (f"{path}: {rows} rows for {frames} frames, one per image from image 1, and {name}'s frames start at image "
            f"{before + 1}; its first {before} rows are dropped so that each box is scored against its own image (the "
            f"tracker started {before} images earlier; OSTrack's analysis would cut the last {before}, misaligning "
            "every box)")


def test_a_toolkit_file_from_image_1_is_scored_aligned_with_a_note(tmp_path):
    root = _tiger1(tmp_path)
    toolkit = _result(tmp_path / "got10k_toolkit", 1, 354)
    text(tmp_path / "got10k_toolkit" / "times" / "Tiger1_time.txt", "0.01\n" * 354)
    ours = _result(tmp_path / "pytracking", 6, 354, "\t")
    out = cli("analyze", toolkit.parent, ours.parent, "--dataset", "otb", "--root", root, "--sequences", "Tiger1",
              "-o", tmp_path / "an")
    assert out.exit_code == 0, out.output
    first, second = json.loads((tmp_path / "an" / "report.json").read_text())["trackers"]
    assert first["scores"]["auc"] == pytest.approx(PERFECT_AUC, abs=1e-12)
    assert second["scores"]["auc"] == pytest.approx(PERFECT_AUC, abs=1e-12) and second["notes"] == {}
    assert first["notes"] == {"Tiger1": _note(toolkit)}
    assert f"got10k_toolkit: Tiger1 scored: {_note(toolkit)}" in " ".join(out.output.split())
    assert first["fps"] == pytest.approx(100.0)   # 354 frames in 3.54 s, the file's own times


def test_every_protocol_drops_the_same_rows(tmp_path):
    (seq,) = get_sequences("otb", _tiger1(tmp_path), names=["Tiger1"])
    assert len(seq) == 349 and seq.images_before == 5
    toolkit = _result(tmp_path / "trk", 1, 354)
    for protocol in ("ostrack-ope", "pytracking-ope", "trackingnet-devkit", "got10k-toolkit"):
        t = analyze([toolkit.parent], [seq], protocol=protocol).trackers[0]
        assert t.errors == {} and t.notes == {"Tiger1": _note(toolkit)}, protocol
        scores = t.result.scores()
        # every box on its own image: IoU 1 and centre error 0 on all 349 frames
        main = {"ostrack-ope": "auc", "pytracking-ope": "auc", "trackingnet-devkit": "precision",
                "got10k-toolkit": "ao"}[protocol]
        assert scores[main] == pytest.approx(PERFECT_AUC if main == "auc" else 1.0, abs=1e-12), protocol


def test_other_lengths_keep_the_toolkits_rule_and_say_so(tmp_path):
    """353 rows is no toolkit's Tiger1: OSTrack's rule (cut the last rows) applies, named in the note; 349 rows (from
    image 6, as OSTrack writes it) is scored as it is, without a note."""
    (seq,) = get_sequences("otb", _tiger1(tmp_path), names=["Tiger1"])
    cut = _result(tmp_path / "cut", 6, 358)
    t = analyze([cut.parent], [seq]).trackers[0]
    assert t.notes == {"Tiger1": f"{cut}: 353 rows for 349 frames; the last 4 are ignored, as OSTrack's analysis does"}
    assert t.result.auc == pytest.approx(PERFECT_AUC, abs=1e-12)
    own = _result(tmp_path / "own", 6, 354)
    t = analyze([own.parent], [seq]).trackers[0]
    assert t.notes == {} and t.result.auc == pytest.approx(PERFECT_AUC, abs=1e-12)
    seq.images_before = 0                                                # as any sequence that leaves no image out
    plain = _result(tmp_path / "plain", 1, 354)
    t = analyze([plain.parent], [seq]).trackers[0]
    assert t.notes == {"Tiger1": f"{plain}: 354 rows for 349 frames; the last 5 are ignored, as OSTrack's analysis "
                                 "does"}


def test_david_from_image_1_is_aligned_to_its_ground_truth_from_image_300(tmp_path):
    """David's ground truth (471 rows) starts at image 300; a run over its whole folder from image 1 (770 rows) is
    aligned the same way, not scored against images 299 later."""
    root = tmp_path / "otb"
    text(root / "David" / "groundtruth_rect.txt", "".join(f"{k},1,4,4\n" for k in range(300, 771)))
    img(root / "David" / "img" / "0300.jpg")
    (seq,) = get_sequences("otb", root, names=["David"])
    assert len(seq) == 471 and seq.images_before == 299
    whole = tmp_path / "trk" / "David.txt"
    text(whole, "".join(f"{k},1,4,4\n" for k in range(1, 771)))
    t = analyze([whole.parent], [seq]).trackers[0]
    assert t.result.auc == pytest.approx(PERFECT_AUC, abs=1e-12)
    assert t.notes == {"David": _note(whole, "David", 770, 471, 299)}
