"""`dt demo -o SET` with SET a dataset folder (a `dt data synth` set, or a folder in one) made its synthetic data and
exported three graphs into the set, and only its third step, dt bench, refused the folder as inside a dataset. The
README says dt demo refuses such an --output before any work, as dt export, dt analyze and dt bench do."""

from __future__ import annotations

import os

import pytest

from droptrack.data import generate_synth
from helpers import cli, one_line_error


def _tree(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return generate_synth(tmp_path_factory.mktemp("demo_out") / "set", 1, 3, seed=0, size=(96, 64), split="val")


@pytest.mark.parametrize("where, marker", [("", "synth.json"), ("newdemo", "synth.json"),
                                           ("synth_val_00001", "groundtruth.txt")])
def test_demo_refuses_an_output_inside_a_dataset_before_any_work(dataset, where, marker):
    out = dataset / where if where else dataset
    before = _tree(dataset)
    line = one_line_error(cli("demo", "-o", out, "--sequences", 1, "--frames", 3, "--video-frames", 2,
                              "--threads", 1))
    owner = os.path.realpath(out if where != "newdemo" else dataset)
    assert line == (f"error: --output '{out}' is inside the dataset folder '{owner}' (it holds {marker}; results "
                    "there would be read as its input); pass an output folder outside it"), line
    assert _tree(dataset) == before   # no data/, export/ or marker file written into the set


def test_a_folder_beside_the_dataset_is_still_a_demo_folder(dataset, tmp_path):
    from droptrack.demo import check_demo_folder

    check_demo_folder(dataset.parent / "demo", 1, 3)   # a new folder next to the set: no refusal
    check_demo_folder(tmp_path, 1, 3)
