"""An empty toolkit attribute file (att/<seq>.txt, or one in --attributes DIR: a line of 0/1 flags, all 0 for a
sequence with none) was read as a sequence with no attribute, a '(none)' row; nothing is known of that sequence, and
the note now says the file is empty, as a sequence without a file is left out and noted. A sequence folder's own
attributes.txt (dt data synth's tags, one per line) that is empty still says it has none (module docstring)."""

from __future__ import annotations

import numpy as np

from droptrack.data.sequence import Sequence
from droptrack.eval.report import analyze
from droptrack.eval.results import write_result

GT = np.array([[10, 10, 20, 20], [12, 10, 20, 20]], dtype=np.float64)
FLAGS = ",".join(["1"] + ["0"] * 13) + "\n"   # LaSOT's first attribute, Illumination Variation


def _analyze(tmp_path, att: dict[str, str], own: dict[str, str] | None = None):
    """dt analyze's scoring of sequences a and b (tracked exactly), with att/<seq>.txt `att` and the sequence folders'
    attributes.txt `own`."""
    seqs = []
    for name in ("a", "b"):
        folder = tmp_path / "data" / name
        folder.mkdir(parents=True)
        if name in (own or {}):
            (folder / "attributes.txt").write_text(own[name])
        seqs.append(Sequence(name, "lasot", [folder / "00000001.jpg", folder / "00000002.jpg"], None, GT))
        write_result(tmp_path / "res" / f"{name}.txt", GT)
    (tmp_path / "att").mkdir()
    for name, body in att.items():
        (tmp_path / "att" / f"{name}.txt").write_text(body)
    report = analyze([tmp_path / "res"], seqs, tag="lasot", output_dir=tmp_path / "an",
                     attributes_dir=tmp_path / "att" if att else None)
    return report.attributes


def test_an_empty_toolkit_file_is_noted_and_left_out(tmp_path):
    att = _analyze(tmp_path, {"a": FLAGS, "b": ""})
    assert att.counts == {"Illumination Variation": 1}   # no '(none)' row made of the empty file
    assert att.note.startswith("1 of 2 sequences has no attribute information (left out): "
                               f"{tmp_path / 'att' / 'b.txt'} is empty"), att.note


def test_only_empty_toolkit_files_say_so(tmp_path):
    att = _analyze(tmp_path, {"a": "", "b": ""})
    assert att.counts == {}
    assert att.note.startswith(f"per-attribute analysis skipped: {tmp_path / 'att' / 'a.txt'} and 1 more are "
                               "empty"), att.note


def test_an_empty_synth_tag_file_still_reads_as_no_attribute(tmp_path):
    att = _analyze(tmp_path, {}, own={"a": "blur\n", "b": ""})
    assert att.counts == {"blur": 1, "(none)": 1}
