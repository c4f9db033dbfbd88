"""`dt eval --dataset synth --root X` where X is one sequence's folder, or a folder the set lies inside (the folder a
`dt demo` wrote, a parent of the set), said only 'has no sequences; check the root'; it now names the --root that
holds the sequences, as a path that pastes."""

from __future__ import annotations

import shlex

import pytest

from droptrack.data.synth import generate_synth
from helpers import cli, img, one_line_error

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


@pytest.fixture(scope="module")
def outer(tmp_path_factory):
    """outer/runs a/my sét: a 1-sequence synthetic set two levels below `outer`, beside a stray photo."""
    top = tmp_path_factory.mktemp("eval_root")
    generate_synth(top / "runs a" / "my sét", 1, 2, seed=1, split="val", size=(96, 64))
    img(top / "strip.png")
    return top


def advised_root(error: str) -> str:
    """The path after '--root ' at the end of the error line."""
    return shlex.split(error.rsplit("--root ", 1)[1])[0]


def test_a_folder_above_the_set_names_the_set(outer):
    error = one_line_error(cli("eval", "--dataset", "synth", "--root", outer))
    assert "subfolder 'runs a/my sét' holds sequences" in error, error
    assert advised_root(error) == str(outer / "runs a" / "my sét")
    error = one_line_error(cli("eval", "--dataset", "synth", "--root", outer / "runs a"))
    assert advised_root(error) == str(outer / "runs a" / "my sét")


def test_a_sequence_folder_names_the_folder_that_holds_it(outer):
    seq = outer / "runs a" / "my sét" / "synth_val_00001"
    error = one_line_error(cli("eval", "--dataset", "synth", "--root", seq))
    assert f"'{seq}' is one sequence" in error and advised_root(error) == str(seq.parent), error


def test_a_folder_of_frames_without_ground_truth_keeps_the_general_advice(tmp_path):
    for i in (1, 2):
        img(tmp_path / f"{i:08d}.jpg")
    error = one_line_error(cli("eval", "--dataset", "synth", "--root", tmp_path))
    assert error.endswith("has no sequences; check the root (its list.txt / annotation folder) or pick another split")
