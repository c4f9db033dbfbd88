"""Property-based tests of the input parsers: boxes (--init), config values and paths.

Whatever the input, a parser returns a valid value or raises the one-line user error (DropTrackError), never
another exception; valid values round-trip exactly.

CI draws the same 150 examples per test on every run (derandomized: a CI verdict is reproducible);
`DT_HYPOTHESIS_EXAMPLES=5000 pytest tests/test_parsers_property.py` explores that many fresh random ones.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from droptrack.config import Config, config_from_dict, config_to_dict
from droptrack.config_rules import RULES, Rule, check_value
from droptrack.data.synth import parse_size
from droptrack.errors import ConfigError, DropTrackError, InputError, TrainingError
from droptrack.geometry import validate_init_box
from droptrack.runtime.run import parse_box
from droptrack.train.data import data_name, parse_data_roots
from droptrack.train.options import TrainOptions, check_options, make_output

EXPLORE = int(os.environ.get("DT_HYPOTHESIS_EXAMPLES", "0"))
FAST = settings(max_examples=EXPLORE or 150, derandomize=not EXPLORE, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
any_value = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(), st.text(max_size=12),
                      st.lists(st.one_of(st.integers(-5, 5), st.floats(), st.text(max_size=4)), max_size=4))


def _leaf_keys(obj, where: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out += _leaf_keys(value, f"{where}{f.name}.")
        elif f.name != "NAME":
            out.append(where + f.name)
    return out


LEAF_KEYS = _leaf_keys(Config())


def _nested(key: str, value) -> dict:
    data: dict = {}
    node = data
    *parents, leaf = key.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    return data


@FAST
@given(st.lists(finite, min_size=4, max_size=4), st.sampled_from([",", ", ", " ,", " , "]))
def test_init_box_text_round_trips(box, sep):
    assert parse_box(sep.join(repr(v) for v in box)) == box


@FAST
@given(st.text(max_size=40))
def test_init_box_parser_returns_four_floats_or_a_user_error(text):
    try:
        vals = parse_box(text)
    except InputError as exc:
        assert "--init" in str(exc) and "\n" not in str(exc).strip()
        return
    assert len(vals) == 4 and all(isinstance(v, float) for v in vals)


@FAST
@given(st.lists(st.one_of(st.floats(), st.text(max_size=5), st.none()), max_size=6),
       st.integers(1, 4000), st.integers(1, 4000))
def test_accepted_init_boxes_are_finite_positive_and_overlap_the_frame(box, H, W):
    try:
        x, y, w, h = validate_init_box(box, (H, W))
    except InputError:
        return
    assert all(math.isfinite(v) for v in (x, y, w, h)) and w > 0 and h > 0
    assert x < W and y < H and x + w > 0 and y + h > 0


@FAST
@given(st.sampled_from(LEAF_KEYS), any_value)
def test_any_config_value_is_accepted_valid_or_refused_naming_the_key(key, value):
    try:
        cfg = config_from_dict(_nested(key, value))
    except ConfigError as exc:
        msg = str(exc)
        assert "\n" not in msg and key.split(".")[-1] in msg, msg
        return
    again = config_from_dict(config_to_dict(cfg))  # what was accepted is valid and survives a round trip
    assert config_to_dict(again) == config_to_dict(cfg)


@FAST
@given(st.sampled_from(sorted(k for k, r in RULES.items() if r.kind in (int, float) and not r.choices)),
       st.one_of(st.integers(-10**9, 10**9), st.floats()))
def test_numeric_rules_accept_exactly_their_range(key, value):
    rule: Rule = RULES[key]
    if rule.kind is int and isinstance(value, float):
        with pytest.raises(ConfigError):
            check_value(key, value, rule)
        return
    inside = math.isfinite(value) and (rule.lo is None or value > rule.lo or (value == rule.lo and not rule.lo_open)) \
        and (rule.hi is None or value < rule.hi or (value == rule.hi and not rule.hi_open))
    if inside:
        assert check_value(key, value, rule) == value
    else:
        with pytest.raises(ConfigError, match=key):
            check_value(key, value, rule)


@FAST
@given(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(["x", "X", " x ", "x "]))
def test_size_text_round_trips(w, h, sep):
    assert parse_size(f"{w}{sep}{h}") == (w, h)


@FAST
@given(st.text(max_size=12))
def test_size_parser_returns_two_ints_or_a_user_error(text):
    try:
        w, h = parse_size(text)
    except InputError:
        return
    assert isinstance(w, int) and isinstance(h, int)


@FAST
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
@example("\n\\")   # CI found it: the Windows-separator error printed the newline of the name
def test_output_folder_is_made_or_refused_with_a_user_error(name):
    """The checks make nothing (a run refused later leaves no folder); a folder they pass can be made."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / name
        try:
            check_options(TrainOptions(config="tiny_ce_test", output=out))
        except DropTrackError as exc:
            assert "\n" not in str(exc)
            return
        assert not any(Path(tmp).iterdir()) or out.resolve() == Path(tmp).resolve()
        make_output(out)
        assert out.is_dir()


@FAST
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20), st.booleans())
def test_data_roots_map_existing_paths_and_refuse_others(name, exists):
    assume("=" not in name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "root"
        if exists:
            path.mkdir()
        item = f"{name}={path}" if name else str(path)
        try:
            roots = parse_data_roots([item])
        except TrainingError as exc:
            assert not exists or "the dataset name before '=' is empty" in str(exc)   # ' =PATH'
            return
        assert exists and list(roots.values()) == [str(path)]
        assert list(roots) == [data_name(name or "SYNTH")] and list(roots)[0].lower() == (name or "SYNTH").lower()
        assert name == "" or name.strip(), name


def test_data_roots_with_an_empty_side_of_the_equals_sign_are_refused(tmp_path):
    """'--data =PATH' and '--data SYNTH=' were read as a dataset named '' and as the folder '' (the working folder,
    which exists): their errors spoke of unused roots or a missing one, never of the empty part."""
    with pytest.raises(TrainingError, match=r"--data =\S+: the dataset name before '=' is empty; pass NAME=PATH"):
        parse_data_roots([f"={tmp_path}"])
    with pytest.raises(TrainingError, match=r"--data SYNTH=: the path after '=' is empty; pass NAME=PATH"):
        parse_data_roots(["SYNTH="])


@FAST
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
@example("a\n\\b")
@example("a\n/")
def test_output_path_errors_are_one_line_for_any_name(name):
    """Every refusal of an output file or folder is one line, whatever the name holds (a newline from a script)."""
    from droptrack.paths import check_output_dir, check_output_file

    with tempfile.TemporaryDirectory() as tmp:
        for check in (check_output_file, check_output_dir):
            try:
                check("--output", str(Path(tmp) / name))
            except DropTrackError as exc:
                assert "\n" not in str(exc) and "\r" not in str(exc)


def test_an_integer_range_is_written_in_full():
    """--seed's range read 'an integer in [0, 4.29497e+09]': a bound no one can type back."""
    from droptrack.config_rules import Rule

    assert Rule(int, lo=0, hi=2 ** 32 - 1).describe() == "an integer in [0, 4294967295]"
    assert Rule(float, lo=0.0, hi=1.5).describe() == "a finite number in [0, 1.5]"
