"""`dt bench --max-auc-drop inf` (no AUC limit) stored the limit as null in bench.json (JSON has no inf), where null
means 'not given: the default per precision applied', though the row's gate was run with no limit: bench.json now
holds "inf" there, in the gates block and in the row's gate threshold; a limit not given stays null."""

from __future__ import annotations

import json

from helpers import cli


def _bench(ckpt, out, *gate) -> dict:
    res = cli("bench", ckpt, "--data", "synthetic", "--sequences", "2", "--frames", "6", *gate, "-o", out)
    assert res.exit_code == 0, res.output
    return json.loads((out / "bench.json").read_text())


def test_an_infinite_auc_limit_reads_inf_not_the_null_of_no_limit_given(tiny_ckpt, tmp_path):
    given = _bench(tiny_ckpt, tmp_path / "inf", "--max-auc-drop", "inf")
    assert given["gates"]["max_auc_drop"] == "inf"
    gate = next(g for g in given["rows"][0]["gates"] if g["name"] == "max_auc_drop")
    assert gate["threshold"] == "inf" and gate["explicit"] is True and gate["passed"] is True
    default = _bench(tiny_ckpt, tmp_path / "default")
    assert default["gates"]["max_auc_drop"] is None
    gate = next(g for g in default["rows"][0]["gates"] if g["name"] == "max_auc_drop")
    assert gate["threshold"] == default["gates"]["max_auc_drop_defaults"]["fp32"] and gate["explicit"] is False
