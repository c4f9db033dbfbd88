"""benchmarks/tune_tracker_ext.py `--val NAME=DIR`: extra validation sets are parsed, and bad values are refused with
a one-line reason (exit 2 through argparse)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import benchmark_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "tune_tracker_ext.py"


@pytest.fixture(scope="module")
def tune():
    return benchmark_module("tune_tracker_ext")


def test_extra_sets_are_named_folders(tune, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b=c").mkdir()
    got = tune.extra_sets([f"i11={tmp_path / 'a'}", f"odd={tmp_path / 'b=c'}"], {"hard_val"})
    assert got == {"i11": tmp_path / "a", "odd": tmp_path / "b=c"}


@pytest.mark.parametrize("value, reason", [("nodir", "give NAME=DIR"), ("=x", "give NAME=DIR"),
                                           ("hard_val={d}", "already used"), ("x={d}/missing", "not a folder")])
def test_bad_extra_sets_are_refused(tune, tmp_path, value, reason):
    with pytest.raises(ValueError, match=reason):
        tune.extra_sets([value.format(d=tmp_path)], {"hard_val"})


def test_duplicate_names_are_refused(tune, tmp_path):
    with pytest.raises(ValueError, match="already used"):
        tune.extra_sets([f"a={tmp_path}", f"a={tmp_path}"], set())


def test_bad_val_option_exits_2_with_one_line(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "--val", "oops", "--workdir", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert r.returncode == 2
    assert "give NAME=DIR" in r.stderr and "Traceback" not in r.stderr


def test_eval_keys_are_checked_test_keys(tune):
    assert tune.given_keys('{"SCALE_SEARCH": [0.8], "SCALE_PENALTY": 0.95}') == {"SCALE_SEARCH": [0.8],
                                                                                 "SCALE_PENALTY": 0.95}
    for text, reason in (("{SCALE", "is not JSON"), ("[0.8]", "not a JSON object"),
                         ('{"SCALE_SEARCH": [9]}', "SCALE_SEARCH"), ('{"SIZE": 1}', "unknown tracker extension")):
        with pytest.raises(ValueError, match=reason):
            tune.given_keys(text)


def test_recorded_arguments_hold_no_machine_paths(tune, tmp_path):
    work = tmp_path / "work"
    data = tmp_path / "elsewhere" / "issue11_val"
    assert tune.shown(str(data), work) == "<data>/issue11_val"
    assert tune.shown(f"issue11_val={data}", work) == "issue11_val=<data>/issue11_val"
    assert tune.shown(str(work), work) == "<workdir>"
    assert tune.shown(str(ROOT / "benchmarks" / "results" / "x"), work) == "benchmarks/results/x"
    assert tune.shown('{"SCALE_SEARCH": [0.8]}', work) == '{"SCALE_SEARCH": [0.8]}'
    assert tune.shown("--val", work) == "--val"


def test_set_names_are_accepted_and_generated_as_recorded(tune, tmp_path, monkeypatch):
    """A bench_classic SETS name stands for a folder: accepted by --val, and generated under the workdir with the
    arguments recorded in the sets' synth.json files (v2-val: 30 x 100, seed 2, 320x240, no attributes;
    issue11_val2: 48 x 120, seed 43, 640x360, all attributes, moderate)."""
    import droptrack.data.synth as synth

    assert tune.extra_sets(["i11b=issue11_val2"], {"hard_val"}) == {"i11b": Path("issue11_val2")}
    calls = []

    def record(out, *args, **kw):
        calls.append((Path(out).name, args, kw))
        Path(out).mkdir(parents=True)
        marker = synth._params(*args, "jpg", attributes=kw["attributes"], difficulty=kw["difficulty"])
        (Path(out) / "synth.json").write_text(json.dumps(marker))
        return Path(out)

    monkeypatch.setattr(synth, "generate_synth", record)
    assert tune.set_folder("v2_val", tmp_path) == tmp_path / "v2_val"
    assert tune.set_folder("issue11_val2", tmp_path) == tmp_path / "issue11_val2"
    assert tune.set_folder(tmp_path, tmp_path / "w") == tmp_path   # a folder is taken as it is
    v2, i11b = calls
    assert v2[1] == (30, 100, 2, (320, 240), "val") and v2[2]["attributes"] == ()
    assert i11b[1] == (48, 120, 43, (640, 360), "val")
    assert i11b[2]["attributes"] == synth.parse_attributes("all") and i11b[2]["difficulty"] == "moderate"
    assert len(calls) == 2   # generated once: an existing set with the same parameters is reused
    tune.set_folder("v2_val", tmp_path)
    assert len(calls) == 2


def test_two_runs_sharing_a_workdir_keep_each_others_cached_rows(tune, tmp_path, monkeypatch):
    """Two tuning processes on one --workdir: the one that writes last keeps the other's settings in the cache."""
    monkeypatch.setattr(tune, "evaluate", lambda backend, keys, sets, which: {w: 0.5 for w in which})
    cache = tmp_path / "cache.json"
    a = tune.Grid(None, None, cache, ["hard_val"])
    b = tune.Grid(None, None, cache, ["hard_val"])   # both read the cache before either has written
    a.run({"CROP_GRID": 0.1})
    b.run({"CROP_GRID": 0.05})
    assert set(json.loads(cache.read_text())) == {'{"CROP_GRID": 0.1}', '{"CROP_GRID": 0.05}'}
