"""Attribute flag files separated by blanks or tabs ('1 0 0 1 ...', as a copy re-saved from a spreadsheet or with
MATLAB's dlmwrite and another delimiter has them) were read as one tag named '1 0 0 1 ...': dt analyze printed a
per-attribute table whose rows were those strings. They are now decoded like the comma-separated files (the UAV123 and
LaSOT column orders), and a row of 0/1 values of another count is refused as a cut comma-separated one is."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import InputError
from droptrack.eval.attributes import parse_attribute_file, sequence_attributes
from droptrack.eval.report import analyze
from droptrack.eval.results import write_result

GT = np.array([[10, 10, 20, 20], [12, 10, 20, 20]], dtype=np.float64)
MISS = np.array([[10, 10, 20, 20], [80, 80, 20, 20]], dtype=np.float64)   # frame 1: IoU 0


@pytest.mark.parametrize("sep,end", [(" ", "\n"), ("\t", "\r\n"), (", ", "\n")])
def test_lasot_flags_by_any_separator(tmp_path, sep, end):
    # LaSOT columns: IV POC DEF MB CM ROT BC VC SV FOC FM OV LR ARC
    (tmp_path / "a.txt").write_text(sep.join("0,1,0,0,0,1,0,0,1,0,0,0,1,0".split(",")) + end)
    assert parse_attribute_file(tmp_path / "a.txt") == ["Partial Occlusion", "Rotation", "Scale Variation",
                                                       "Low Resolution"]


def test_blank_separated_row_of_another_count_is_refused(tmp_path):
    (tmp_path / "cut.txt").write_text("0 1 0 0 0 0 0 0 0 1 0 0 0\n")
    with pytest.raises(InputError, match=r"cut.txt holds 13 blank-separated values, not LaSOT's 14 or UAV123's 12"):
        parse_attribute_file(tmp_path / "cut.txt")
    (tmp_path / "tags.txt").write_text("occlusion\nfast motion\n")          # tags, one per line, stay tags
    assert parse_attribute_file(tmp_path / "tags.txt") == ["fast motion", "occlusion"]


def test_uav123_tab_separated_att_files_make_the_attribute_table(tmp_path):
    from droptrack.data.registry import get_sequences

    root = tmp_path / "uav"
    anno = root / "anno" / "UAV123"
    (anno / "att").mkdir(parents=True)
    (anno / "bird1_2.txt").write_text("10,10,20,20\n12,10,20,20\n")
    (anno / "car1_s.txt").write_text("10,10,20,20\n12,10,20,20\n")
    # UAV123 columns: SV ARC LR FM FOC POC OV BC IV VC CM SOB
    (anno / "att" / "bird1_2.txt").write_text("0\t0\t0\t0\t1\t0\t0\t0\t0\t0\t0\t1\r\n")   # FOC, SOB
    (anno / "att" / "car1_s.txt").write_text("1 0 0 1 0 0 0 0 0 0 0 0\n")                # SV, FM
    for folder in ("bird1", "car1_s"):
        (root / "data_seq" / "UAV123" / folder).mkdir(parents=True)
    bird, car = get_sequences("uav", root)
    res = tmp_path / "good"
    write_result(res / "uav_bird1_2.txt", GT)
    write_result(res / "uav_car1_s.txt", MISS)
    report = analyze([res], [bird, car], tag="uav", output_dir=tmp_path / "an")
    assert report.attributes.counts == {"Fast Motion": 1, "Full Occlusion": 1, "Scale Variation": 1,
                                        "Similar Object": 1}
    # bird1_2: both frames IoU 1 -> AUC 20/21; car1_s: frame 1 missed -> 1/2 of that
    assert report.attributes.scores["Full Occlusion"]["good"]["auc"] == pytest.approx(20 / 21)
    assert report.attributes.scores["Fast Motion"]["good"]["auc"] == pytest.approx(10 / 21)
    assert sequence_attributes(car) == ["Scale Variation", "Fast Motion"]
