"""`dt eval --dataset tnl2k` or `--dataset lasot_extension_subset` on a root in GOT-10k's layout (a `dt data synth`
set, one's own footage: frames beside each groundtruth.txt) took its folders for sequences and said the first one's
imgs/ or full_occlusion.txt 'is missing; re-download or re-extract', advice that cannot help. The error now says
the root holds no such sequence and which dataset reads that layout; a real sequence missing its files is named
as before, and a LaSOT-extension root of annotations only (dt analyze) is still read."""

from __future__ import annotations

import pytest

from droptrack.data import generate_synth, get_sequences
from droptrack.errors import DatasetError
from helpers import cli, one_line_error, text


@pytest.fixture(scope="module")
def got10k_layout(tmp_path_factory):
    return generate_synth(tmp_path_factory.mktemp("layout") / "set", 2, 3, seed=0, size=(96, 64), split="val")


@pytest.mark.parametrize("dataset, name, folder", [("tnl2k", "TNL2K", "no imgs/ folder"),
                                                   ("lasot_extension_subset", "LaSOT-extension",
                                                    "neither img/ nor full_occlusion.txt")])
def test_a_got10k_layout_root_is_named_as_another_datasets(got10k_layout, tmp_path, dataset, name, folder):
    line = one_line_error(cli("eval", "--dataset", dataset, "--root", got10k_layout, "--tracker", "kcf",
                              "-o", tmp_path / "results"))
    assert line.startswith(f"error: no {name} sequence under {got10k_layout}: its folders with a groundtruth.txt "
                           f"have {folder}"), line
    assert "--dataset folder reads them" in line and "re-download" not in line, line
    assert get_sequences("folder", got10k_layout)   # the layout the message names does read it


def test_a_tnl2k_sequence_missing_its_images_is_still_named(tmp_path):
    text(tmp_path / "good" / "groundtruth.txt", "1,1,4,4\n")
    (tmp_path / "good" / "imgs").mkdir()
    text(tmp_path / "bad" / "groundtruth.txt", "1,1,4,4\n")   # an extraction that left out its imgs/
    with pytest.raises(DatasetError, match="bad/imgs"):
        get_sequences("tnl2k", tmp_path)


def test_lasot_extension_annotations_only_are_still_read(tmp_path):
    seq = tmp_path / "atv" / "atv-1"
    text(seq / "groundtruth.txt", "1,1,4,4\n2,2,4,4\n")
    text(seq / "full_occlusion.txt", "0,0\n")
    text(seq / "out_of_view.txt", "0,0\n")
    (only,) = get_sequences("lasot_extension_subset", tmp_path)
    assert only.name == "atv-1" and len(only) == 2
