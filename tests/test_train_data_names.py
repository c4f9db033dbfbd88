"""`dt train --data NAME=PATH` takes NAME in any letter case, for every dataset name as for the readers' names."""

from __future__ import annotations

import pytest

from droptrack.errors import TrainingError
from droptrack.train.data import check_data_names, parse_data_roots

AUX = ["SYNTH", "SYNTH_aux"]   # a config with two own-footage roots (docs/train.md)


@pytest.fixture
def roots(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    return str(tmp_path / "a"), str(tmp_path / "b")


@pytest.mark.parametrize("aux", ["SYNTH_aux", "synth_aux", "SYNTH_AUX", "Synth_Aux"])
@pytest.mark.parametrize("first", ["SYNTH", "synth", "Synth"])
def test_a_second_own_root_is_taken_in_any_letter_case(roots, first, aux):
    """--data synth=A was taken (synth is the reader's name) but --data synth_aux=B, or SYNTH_AUX=B, was refused as
    a root the config would ignore (names were matched exactly), and --data synth=A beside SYNTH_aux=B as two roots
    of SYNTH_aux (whose root is only its own). Each name is now taken whatever its case, spelt as droptrack does."""
    a, b = roots
    got = parse_data_roots([f"{first}={a}", f"{aux}={b}"])
    check_data_names(got, AUX)
    assert got == {"synth" if first == "synth" else "SYNTH": a, "SYNTH_aux": b}


def test_names_in_other_cases_are_still_one_root_each(roots):
    """A dataset named twice in two cases is given twice; SYNTH beside synth (its reader) still gives SYNTH two roots;
    a name no config dataset or reader has is still refused as ignored, in the case droptrack spells it."""
    a, b = roots
    with pytest.raises(TrainingError, match=r"^--data SYNTH_aux is given twice"):
        parse_data_roots([f"SYNTH_aux={a}", f"synth_AUX={b}"])
    with pytest.raises(TrainingError, match=r"^--data SYNTH=\S+ and --data synth=\S+ both give the root of SYNTH"):
        check_data_names(parse_data_roots([f"Synth={a}", f"synth={b}"]), AUX)
    assert parse_data_roots([f"LaSOT={a}", f"got10k_VOTTRAIN={b}"]) == {"LASOT": a, "GOT10K_vottrain": b}
    with pytest.raises(TrainingError, match=r"^--data SYNTH_val=\S+: the config trains on SYNTH, SYNTH_aux, so this"):
        check_data_names(parse_data_roots([f"synth_VAL={a}"]), AUX)
