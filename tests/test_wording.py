"""Counts in user-facing messages read '1 sequence' / '2 sequences', never '1 sequences'."""
from types import SimpleNamespace

import pytest

from droptrack.eval.attributes import AttributeReport, per_attribute
from droptrack.eval.attributes_view import attribute_table
from droptrack.eval.bench_view import title
from droptrack.eval.machine import machine_line
from droptrack.wording import counted

MACHINE = {"cpu": "Some CPU", "versions": {}}


def _report(names):
    return SimpleNamespace(protocol="ostrack-ope", sequences=list(names), tag="synth", trackers=[])


def test_counted_reads_by_the_count():
    assert [counted(n, "frame") for n in (0, 1, 2)] == ["0 frames", "1 frame", "2 frames"]
    assert counted(1, "more sequence", "more sequences") == "1 more sequence"


@pytest.mark.parametrize("n, words", [(1, "no attribute files for the sequence;"),
                                      (2, "no attribute files for the 2 sequences;")])
def test_no_attribute_files_note(n, words):
    names = [f"s{i}" for i in range(n)]
    ar = per_attribute(_report(names), [SimpleNamespace(name=x, frames=None) for x in names])
    assert words in ar.note


@pytest.mark.parametrize("total, tagged, words", [(2, 1, "1 of 2 sequences has no attribute information"),
                                                  (3, 1, "2 of 3 sequences have no attribute information")])
def test_untagged_sequences_note(tmp_path, total, tagged, words):
    seqs = []
    for i in range(total):
        folder = tmp_path / f"s{i}"
        folder.mkdir()
        if i < tagged:
            (folder / "attributes.txt").write_text("occlusion\n")
        seqs.append(SimpleNamespace(name=folder.name, frames=[str(folder / "00000001.jpg")]))
    ar = per_attribute(_report(s.name for s in seqs), seqs)
    assert words in ar.note


@pytest.mark.parametrize("n, words", [(1, "1 sequence with tags"), (2, "2 sequences with tags")])
def test_attribute_table_title(n, words):
    ar = AttributeReport("synthetic attributes.txt", ("auc",), n, {"occlusion": n},
                         {"occlusion": {"T": {"auc": 0.5}}})
    assert words in str(attribute_table(ar).title)


@pytest.mark.parametrize("n, words", [(1, "(1 sequence, 1 frame,"), (2, "(2 sequences, 2 frames,")])
def test_bench_title(n, words):
    report = SimpleNamespace(data=SimpleNamespace(name="clip.mp4", sequences=["clip"] * n, n_frames=n,
                                                  ground_truth="none"),
                             options=SimpleNamespace(device="cpu"), machine=MACHINE, wall_s=1.0)
    assert words in title(report)


@pytest.mark.parametrize("n, words", [(1, "Some CPU (1 core)"), (2, "Some CPU (2 cores)")])
def test_machine_line_cores(n, words):
    assert machine_line({**MACHINE, "usable_cores": n}).startswith(words)


@pytest.mark.parametrize("n, words", [(1, "synth: ostrack-ope, 1/1 sequence"), (2, "synth: ostrack-ope, 2/2 sequences")])
def test_eval_report_table_title(n, words):
    from droptrack.eval.report import Report
    from droptrack.eval.report_view import report_table

    rep = Report("synth", "synth", "ostrack-ope", n, [f"s{i}" for i in range(n)], [])
    assert str(report_table(rep).title) == words


@pytest.mark.parametrize("n, words", [(1, "x: its only sequence has no ground truth after the first frame"),
                                      (2, "x: none of the 2 sequences has ground truth after the first frame")])
def test_test_split_message(n, words):
    from droptrack.errors import InputError
    from droptrack.eval.report import _check_ground_truth

    seqs = [SimpleNamespace(name=f"s{i}", boxes=[[1, 2, 3, 4]], gt=None) for i in range(n)]
    with pytest.raises(InputError) as err:
        _check_ground_truth(seqs, "x")
    assert str(err.value).startswith(words)


@pytest.mark.parametrize("n, words", [(1, ("1 frame, 1 target,", "1 frame with a lost target")),
                                      (2, ("2 frames, 2 targets,", "2 frames with a lost target"))])
def test_run_summary_line(n, words):
    from droptrack.runtime.loop import RunSummary
    from droptrack.runtime.run import summary_line

    line = summary_line(RunSummary(frames=n, num_targets=n, lost_count=n))
    assert line.startswith(words[0]) and words[1] in line, line


@pytest.mark.parametrize("n, words", [(1, "(1 image)"), (2, "(2 images)")])
def test_image_folder_name(tmp_path, n, words):
    import cv2
    import numpy as np

    from droptrack.runtime.sources import FolderSource

    for i in range(n):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.zeros((32, 32, 3), np.uint8))
    assert FolderSource(tmp_path).name == f"folder {tmp_path} {words}"


@pytest.mark.parametrize("rows, words", [(1, ": 1 row for 4 frames; the missing 3 frames"),
                                         (2, ": 2 rows for 4 frames; the missing 2 frames")])
def test_short_result_note(tmp_path, rows, words):
    from droptrack.eval.score_files import row_count_note

    assert words in row_count_note(tmp_path / "s.txt", rows, 4, "ostrack-ope", "otb")


@pytest.mark.parametrize("n, words", [(1, "1 prediction array for 2 sequences"),
                                      (3, "3 prediction arrays for 2 sequences")])
def test_ope_prediction_count_message(n, words):
    import numpy as np

    from droptrack.errors import InputError
    from droptrack.eval.metrics import ope_metrics

    gts = [np.full((3, 4), 10.0)] * 2
    with pytest.raises(InputError, match=words):
        ope_metrics([np.full((3, 4), 10.0)] * n, gts)


@pytest.mark.parametrize("module, fn", [("metrics_got10k", "got10k_metrics"),
                                        ("metrics_trackingnet", "trackingnet_metrics")])
def test_toolkit_prediction_count_message(module, fn):
    import importlib

    import numpy as np

    from droptrack.errors import InputError

    score = getattr(importlib.import_module(f"droptrack.eval.{module}"), fn)
    with pytest.raises(InputError, match="1 prediction entry for 2 sequences"):
        score([np.full((3, 4), 10.0)], [np.full((3, 4), 10.0)] * 2)
