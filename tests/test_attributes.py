"""Per-attribute analysis: hand-computed scores on tiny result folders, LaSOT/GOT-10k attribute sources."""

from __future__ import annotations

import json

import numpy as np
import pytest

from droptrack.data.sequence import Sequence
from droptrack.eval.attributes import gt_attributes, parse_attribute_file, sequence_attributes
from droptrack.eval.report import analyze
from droptrack.eval.results import write_result

GT = np.array([[10, 10, 20, 20], [12, 10, 20, 20]], dtype=np.float64)
HIT = GT.copy()                                      # IoU 1 on both frames
MISS = np.array([[10, 10, 20, 20], [80, 80, 20, 20]], dtype=np.float64)   # frame 1: IoU 0, centre error ~96 px


def _seq(root, name, tags):
    folder = root / name
    folder.mkdir(parents=True)
    if tags is not None:
        (folder / "attributes.txt").write_text("".join(f"{t}\n" for t in tags))
    return Sequence(name, "synth", [folder / "00000001.jpg", folder / "00000002.jpg"], None, GT)


def _results(root, name, preds):
    d = root / name
    for seq, p in preds.items():
        write_result(d / f"{seq}.txt", p)
    return d


def test_per_attribute_scores_match_hand_computed_values(tmp_path):
    seqs = [_seq(tmp_path / "data", "a", ["blur"]), _seq(tmp_path / "data", "b", ["blur", "noise"]),
            _seq(tmp_path / "data", "c", [])]
    good = _results(tmp_path, "good", {"a": HIT, "b": MISS, "c": HIT})
    bad = _results(tmp_path, "bad", {"a": MISS, "b": MISS, "c": MISS})
    report = analyze([good, bad], seqs, tag="synth", output_dir=tmp_path / "an")
    # 21 thresholds 0..1, success = IoU > t: all-hit sequence 20/21, one-miss-of-two 10/21 (frame 0 is the init box)
    s = report.attributes.scores
    assert report.attributes.counts == {"blur": 2, "noise": 1, "(none)": 1}
    assert s["blur"]["good"]["auc"] == pytest.approx((20 / 21 + 10 / 21) / 2)
    assert s["blur"]["good"]["precision"] == pytest.approx((1.0 + 0.5) / 2)
    assert s["noise"]["good"]["auc"] == pytest.approx(10 / 21)
    assert s["(none)"]["good"]["auc"] == pytest.approx(20 / 21)
    assert s["blur"]["bad"]["auc"] == pytest.approx(10 / 21)
    assert [d["sequence"] for d in report.differences][:2] in (["a", "c"], ["c", "a"])
    assert report.differences[0]["diff"] == pytest.approx(10 / 21)
    saved = json.loads((tmp_path / "an" / "report.json").read_text())
    assert saved["attributes"]["scores"]["noise"]["bad"]["auc"] == pytest.approx(10 / 21)
    assert saved["plots"]["attributes"] == "attributes.png" and (tmp_path / "an" / "attributes.png").is_file()


def test_results_without_attribute_files_are_skipped_with_a_note(tmp_path):
    seqs = [_seq(tmp_path / "data", "a", None)]
    report = analyze([_results(tmp_path, "t", {"a": HIT})], seqs, tag="synth", output_dir=tmp_path / "an")
    assert not report.attributes.scores and "skipped" in report.attributes.note
    assert report.attributes.note == ("per-attribute analysis skipped: no attribute files for the sequence; pass "
                                      "--attributes DIR (the LaSOT or UAV123 toolkit's att/ folder), or make a "
                                      "synthetic set with dt data synth --attributes all")   # was 'see <module>'
    assert "attributes" not in report.plots


def test_lasot_attribute_file_in_the_toolkit_layout(tmp_path):
    root = tmp_path / "lasot"
    (root / "att").mkdir(parents=True)
    (root / "att" / "cat-1.txt").write_text("0,1,0,0,0,0,0,0,0,1,0,0,0,1\n")
    seq = Sequence("cat-1", "lasot", [root / "cat" / "cat-1" / "img" / "00000001.jpg"], None, GT[:1])
    assert sequence_attributes(seq) == ["Partial Occlusion", "Full Occlusion", "Aspect Ratio Change"]
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "cat-1.txt").write_text("1,0,0,0,0,0,0,0,0,0,0,0,0,0")
    assert sequence_attributes(seq, other) == ["Illumination Variation"]
    (other / "tags.txt").write_text("small_target\ncamouflage\n")
    assert parse_attribute_file(other / "tags.txt") == ["camouflage", "small_target"]


def test_attributes_from_ground_truth_follow_the_lasot_definitions():
    # 40x40 -> 40x90: aspect 0.44 of the first (< 0.5), side ratio 1.5, centre moves 25.5 px < 40
    assert gt_attributes(np.array([[0, 0, 40, 40], [5, 0, 40, 90]])) == ["aspect_ratio_change"]
    # 40x40 -> 19x19: side ratio 0.475, area 361 < 1000, centre moves 90 px > 40
    assert gt_attributes(np.array([[0, 0, 40, 40], [100, 0, 19, 19]])) == ["scale_variation", "low_resolution",
                                                                          "fast_motion"]


def test_got10k_tags_derived_from_the_official_labels(tmp_path):
    folder = tmp_path / "GOT-10k_Val_000001"
    folder.mkdir()
    (folder / "absence.label").write_text("0\n1\n0\n")
    (folder / "cover.label").write_text("8\n0\n3\n")
    (folder / "cut_by_image.label").write_text("0\n0\n0\n")
    gt = np.array([[0, 0, 50, 50], [0, 0, 0, 0], [2, 2, 50, 50]], dtype=np.float64)
    seq = Sequence(folder.name, "got10k", [folder / f"{i:08d}.jpg" for i in (1, 2, 3)], None, gt)
    assert sequence_attributes(seq) == ["full_occlusion", "partial_occlusion"]


def test_uav123_attribute_files_in_the_benchmark_layout(tmp_path):
    # UAV123 columns: SV ARC LR FM FOC POC OV BC IV VC CM SOB; split parts (bird1_2) have their own file
    from droptrack.data.registry import get_sequences

    root = tmp_path / "uav"
    anno = root / "anno" / "UAV123"
    (anno / "att").mkdir(parents=True)
    (anno / "bird1_2.txt").write_text("10,10,20,20\n12,10,20,20\n")
    (anno / "car1_s.txt").write_text("10,10,20,20\n12,10,20,20\n")
    (anno / "att" / "bird1_2.txt").write_text("0,0,0,0,1,0,0,0,0,0,0,1\n")     # FOC, SOB
    (anno / "att" / "car1_s.txt").write_text("1,0,0,1,0,0,0,0,0,0,0,0\n")      # SV, FM
    for folder in ("bird1", "car1_s"):
        (root / "data_seq" / "UAV123" / folder).mkdir(parents=True)
    bird, car = get_sequences("uav", root)
    assert sequence_attributes(bird) == ["Full Occlusion", "Similar Object"]
    assert sequence_attributes(car) == ["Scale Variation", "Fast Motion"]
    other = tmp_path / "att"
    other.mkdir()
    (other / "bird1_2.txt").write_text("0,0,0,0,0,0,0,0,1,0,0,0")              # --attributes DIR wins: IV
    assert sequence_attributes(bird, other) == ["Illumination Variation"]
    good = _results(tmp_path, "good", {"uav_bird1_2": HIT, "uav_car1_s": MISS})
    report = analyze([good], [bird, car], tag="uav", output_dir=tmp_path / "an")
    assert report.attributes.counts == {"Fast Motion": 1, "Full Occlusion": 1, "Scale Variation": 1,
                                        "Similar Object": 1}
    assert report.attributes.scores["Full Occlusion"]["good"]["auc"] == pytest.approx(20 / 21)
    assert report.attributes.scores["Fast Motion"]["good"]["auc"] == pytest.approx(10 / 21)
    assert report.attributes.source.startswith("UAV123")
    # the table names the files it read: --attributes DIR's, not the dataset's (it said 'UAV123 anno/...' or, on a
    # synthetic set, 'synthetic attributes.txt' over LaSOT flags)
    mine = analyze([good], [bird, car], tag="uav", output_dir=tmp_path / "an2", attributes_dir=other)
    assert mine.attributes.source == f"attribute files in {other}"


def test_damaged_flag_file_is_an_error_not_a_tag(tmp_path):
    """A LaSOT flag line cut to 13 values (or holding junk) was read as one tag named '1,0,0,...', which then
    showed up as an attribute row of the table; now it is bad input naming the file."""
    from droptrack.errors import InputError

    (tmp_path / "cut.txt").write_text("0,1,0,0,0,0,0,0,0,1,0,0,0\n")
    with pytest.raises(InputError, match=r"cut.txt holds 13 comma-separated values, not LaSOT's 14 or UAV123's 12"):
        parse_attribute_file(tmp_path / "cut.txt")
    (tmp_path / "junk.txt").write_text("1,0,x\n")
    with pytest.raises(InputError, match="junk.txt holds 3 comma-separated values"):
        parse_attribute_file(tmp_path / "junk.txt")
    (tmp_path / "two.txt").write_text("0,0,0,0,2,0,0,0,0,0,0,1\n")          # 12 values, one not a 0/1 flag
    with pytest.raises(InputError, match=r"two.txt: value '2' \(number 5 of 12\) is not a 0/1 flag"):
        parse_attribute_file(tmp_path / "two.txt")
    (tmp_path / "empty.txt").write_text("")
    assert parse_attribute_file(tmp_path / "empty.txt") == []                 # a synthetic sequence without tags


def test_attributes_folder_without_any_sequence_file_is_an_error(tmp_path):
    """`dt analyze --attributes WRONG_DIR` silently fell back to the dataset's own files (or to none): the table
    did not come from the folder the user named; now a folder holding none of the sequences' files is bad input."""
    from droptrack.errors import InputError

    root = tmp_path / "lasot"
    (root / "att").mkdir(parents=True)
    (root / "att" / "cat-1.txt").write_text("0,1,0,0,0,0,0,0,0,1,0,0,0,1\n")
    img = root / "cat" / "cat-1" / "img"
    seqs = [Sequence("cat-1", "lasot", [img / "00000001.jpg", img / "00000002.jpg"], None, GT)]
    d = tmp_path / "trk"
    write_result(d / "cat-1.txt", GT)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "dog-1.txt").write_text("1,0,0,0,0,0,0,0,0,0,0,0,0,0")
    with pytest.raises(InputError, match=r"--attributes .*wrong holds no attribute file of the scored sequences "
                                         r"\(looked for cat-1.txt"):
        analyze([d], seqs, attributes_dir=wrong)
    (wrong / "cat-1.txt").write_text("1,0,0,0,0,0,0,0,0,0,0,0,0,0")
    assert list(analyze([d], seqs, attributes_dir=wrong).attributes.counts) == ["Illumination Variation"]
