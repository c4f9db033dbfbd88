"""`dt export --int8 --auto-precision`: the search keeps the fewest most sensitive groups; end-to-end on a tiny model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.config import load_config
from droptrack.export.auto_precision import SearchResult, _bisect, needed_sequences
from droptrack.export.onnx import read_metadata
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint


class FakeEvaluator:
    """Divergence = sum of the quantized groups' (hand-set) contributions; records every probe."""

    def __init__(self, contrib: dict[str, float], base: float = 0.0, needs: frozenset = frozenset()):
        self.contrib, self.probes, self.base, self.needs = contrib, [], base, needs   # needs: kept for parity

    def parity(self, kept):
        missing = sorted(self.needs - set(kept))
        return [f"decoded boxes need {', '.join(missing)} kept"] if missing else []

    def base_divergence(self):
        self.probes.append("base")
        return self.base

    def graph(self, kept):
        self.probes.append(tuple(kept))
        return sum(v for g, v in self.contrib.items() if g not in kept), Path("unused.onnx")


def _search(contrib: dict[str, float], limit: float) -> tuple[list[str], FakeEvaluator]:
    ev = FakeEvaluator(contrib)
    order = sorted(contrib, key=lambda g: -contrib[g])
    res = SearchResult("ort", limit, "hand", 40, 1000, sum(contrib.values()))
    return _bisect(order, ev, res), ev


def test_bisect_keeps_the_fewest_most_sensitive_groups():
    contrib = {"a": 0.10, "b": 0.04, "c": 0.02, "d": 0.01, "e": 0.005, "f": 0.0}
    # keeping a, b leaves 0.035 > 0.03; keeping a, b, c leaves 0.015 <= 0.03
    kept, ev = _search(contrib, 0.03)
    assert kept == ["a", "b", "c"]
    assert len(ev.probes) <= 4                                  # bisection, not one trial per k
    kept, _ = _search(contrib, 0.2)                             # a single kept group is enough: 0.085 <= 0.2
    assert kept == ["a"]


def test_bisect_reports_an_unreachable_limit():
    kept, _ = _search({"a": 0.5, "b": 0.4}, 0.1)                # even with a kept, b alone diverges 40 %
    assert kept == ["a"]


def test_needed_sequences():
    assert needed_sequences(0.03) == 34 and needed_sequences(0.01) == 100 and needed_sequences(0.25) == 4


AUTO = ("--int8", "--int8-target", "ort", "--calib-pairs", 8, "--auto-precision", "--val-sequences", 4,
        "--max-divergence", 0.25, "--group-by", "kind")


@pytest.fixture(scope="module")
def first_search(tmp_path_factory):
    """`dt export tiny.pt --int8 --auto-precision` (4x5 validation frames) into a fresh folder, once: the end-to-end
    test reads what it wrote (kept here, as the journal test then exports into the same folder again).
    (checkpoint, folder, CLI result, auto_precision_ort.json, the INT8 graph's kept_groups)."""
    import random

    threads = torch.get_num_threads()
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    try:
        d = tmp_path_factory.mktemp("auto_precision")
        cfg = load_config("tiny_ce_test")
        ckpt = save_checkpoint(d / "tiny.pt", build_model(cfg).eval(), cfg)
        out = d / "export"
        r = CliRunner().invoke(app, [str(a) for a in ("export", ckpt, *AUTO, "--val-frames", 5, "-o", out)])
    finally:
        torch.set_num_threads(threads)
    assert r.exit_code == 0, r.output
    res = json.loads((out / "auto_precision_ort.json").read_text())
    return ckpt, out, r, res, read_metadata(out / "model_int8_ort.onnx").extra["kept_groups"]


@pytest.mark.slow
def test_auto_precision_end_to_end(first_search):
    _, out, r, res, kept_groups = first_search
    assert res["sequences"] == 4 and res["frames"] == 16 and res["target"] == "ort"
    sha = read_metadata(out / "model_int8_ort.onnx").checkpoint_sha256   # the report names its graph's checkpoint,
    assert sha and res["checkpoint_sha256"] == sha                        # which tells whose it is in the folder
    assert res["passed"] == (res["divergence"] <= 0.25)
    if res["all_quantized"] > 0.25:       # the search ran: every kind was tried alone, the kept ones are the worst
        assert set(res["sensitivity"]) == {"qkv", "proj", "mlp"}   # ORT's graph quantizes only weight GEMMs
        worst = sorted(res["sensitivity"], key=lambda g: -res["sensitivity"][g])[:len(res["kept"])]
        assert res["kept"] == worst and set(res["cost_ms"]) == set(res["kept"])
    assert all(any(g == k or g.endswith("." + k) for k in res["kept"]) for g in kept_groups)
    assert len(kept_groups) >= len(res["kept"])
    assert "auto-precision (ort)" in r.output
    # a rich progress bar counts the trials (its last frame is in the output); no line per trial
    bar = re.search(r"auto-precision \(ort\) trials .* (\d+)/(\d+)", r.output)
    assert bar and bar.group(1) == bar.group(2) == str(res["trials"]), r.output
    assert "trial 1:" not in r.output


@pytest.mark.slow
def test_the_search_says_up_front_that_it_tracks_the_set_once_per_trial(first_search):
    """A search of the embedded model took tens of minutes on a 2-core CPU and said nothing about that up front:
    a line now says so before the first trial (the bar then counts them)."""
    _, _, r, res, _ = first_search
    start = ("auto-precision (ort): each trial tracks the 4 validation sequences (16 frames) with another graph, "
             "about one trial per layer group; this can take long")
    assert start in r.output and r.output.index(start) < r.output.index("all groups INT8"), r.output


def test_divergence_on_target_counts_only_frames_where_the_reference_tracks():
    from droptrack.export.divergence import divergence, divergence_on_target

    box = lambda x: [x, x, 10.0, 10.0]                              # noqa: E731
    ref = {"a": np.array([box(0), box(0), box(0), box(50)])}          # frame 0 is the init frame
    truth = {"a": np.array([box(0), box(0), box(100), box(50), box(60)])}   # frame 2: the reference lost the target
    got = {"a": np.array([box(0), box(1), box(30), box(80)])}         # IoU 0.68 (kept), 0 and 0 (diverged)
    assert divergence(got, ref) == pytest.approx(2 / 3)
    rate, frames = divergence_on_target(got, ref, truth)
    assert frames == 2 and rate == pytest.approx(1 / 2)               # frames 1 and 3; frame 3 diverged
    assert divergence_on_target(got, ref, {"a": np.array([box(200)] * 4)}) == (0.0, 0)


def test_choose_stops_when_the_fp16_base_alone_fails_the_limit():
    from droptrack.export.auto_precision import _choose
    from droptrack.export.quantize import DEFAULT_KEPT

    contrib = {"a": 0.10, "b": 0.04, "c": 0.02}
    res = SearchResult("trt", 0.03, "hand", 40, 1000, 0.16)
    ev = FakeEvaluator(contrib, base=0.05)                            # FP16 alone: 5 % > 3 %
    assert _choose(list(contrib), ev, res, lambda s: None) == list(DEFAULT_KEPT["trt"])
    assert ev.probes == ["base"] and res.base_divergence == 0.05 and not res.sensitivity
    assert any("unreachable" in line for line in res.notes())
    ev = FakeEvaluator(contrib, base=0.01)                            # reachable: sensitivity, then bisection
    res = SearchResult("trt", 0.03, "hand", 40, 1000, 0.16)
    assert _choose(list(contrib), ev, res, lambda s: None) == ["a", "b"]   # keeping a leaves 0.06, a + b 0.02
    assert set(res.sensitivity) == {"a", "b", "c"}
    ev = FakeEvaluator(contrib)
    res = SearchResult("ort", 0.2, "hand", 40, 1000, 0.16)            # all INT8 already holds 20 %
    assert _choose(list(contrib), ev, res, lambda s: None) == [] and ev.probes == []


@pytest.mark.slow
def test_interrupted_search_resumes_from_its_journal(first_search):
    """A second `dt export --auto-precision` into the same folder measures no trial again (the journal beside the
    graph has them) and ends with the same choice; a trial dropped from the journal (the run was killed before it)
    is the only one measured again; another validation size is another journal. The first export is the module's
    first_search, into a fresh folder."""
    ckpt, out, r, first, _ = first_search
    torch.set_num_threads(1)

    def measured_count(output: str, res: dict) -> int:
        counts = re.search(r"(\d+) trials? \((\d+) measured, (\d+) from the journal\)", output)
        assert counts and [int(c) for c in counts.groups()] == [res["trials"], res["measured"],
                                                                 res["trials"] - res["measured"]], output
        return res["measured"]

    def export(frames: int = 5):
        r = CliRunner().invoke(app, [str(a) for a in ("export", ckpt, *AUTO, "--val-frames", frames, "-o", out)])
        assert r.exit_code == 0, r.output
        res = json.loads((out / "auto_precision_ort.json").read_text())
        return r.output, res, measured_count(r.output, res)

    trials = measured_count(r.output, first)
    journals = list((out / ".auto_precision").glob("trials_ort_*.json"))
    assert len(journals) == 1 and trials
    measured = json.loads(journals[0].read_text())["trials"]
    assert len(measured) == trials and measured[""] == first["all_quantized"]
    text, again, trials = export()
    assert "resuming" in text and not trials
    for k in ("kept", "divergence", "all_quantized", "sensitivity", "passed"):
        assert again[k] == first[k], k
    dropped = sorted(measured)[-1]
    journals[0].write_text(json.dumps({"trials": {k: v for k, v in measured.items() if k != dropped}}))
    _, third, trials = export()
    assert trials == 1 and third["kept"] == first["kept"]
    export(frames=6)
    assert len(list((out / ".auto_precision").glob("trials_ort_*.json"))) == 2


def test_a_kept_set_whose_graph_fails_the_parity_check_is_not_taken():
    """At a loose limit all-INT8 held the divergence and was chosen, then its graph failed `dt export`'s parity check
    (kept as .failed) while the search said 'gate holds'. A kept set is now taken only when its graph passes the
    parity check too; the rejected sets are named in the notes."""
    from droptrack.export.auto_precision import _choose

    contrib = {"a": 0.10, "b": 0.04, "c": 0.02}
    ev = FakeEvaluator(contrib, needs=frozenset({"a", "b"}))           # parity holds only with a and b kept
    res = SearchResult("ort", 0.2, "hand", 40, 1000, 0.16)            # all INT8 (16 %) holds the 20 % limit
    assert _choose(list(contrib), ev, res, lambda s: None) == ["a", "b"]
    assert set(res.parity_failed) == {"", "a"}                         # all INT8 and a alone were within the limit
    assert any("2 kept set(s) within the divergence limit failed the parity check and were not taken: all INT8 ("
               in line for line in res.notes())
    ev = FakeEvaluator(contrib, needs=frozenset({"a", "b", "c"}))      # no set keeping < all groups passes
    res = SearchResult("ort", 0.2, "hand", 40, 1000, 0.16)
    assert _choose(list(contrib), ev, res, lambda s: None) == ["a", "b"]   # the largest set tried, reported as failing
    assert "a,b" in res.parity_failed


@pytest.mark.slow
def test_search_takes_the_export_parity_check_into_account(tmp_path, monkeypatch):
    """`dt export --auto-precision` passes its parity check to the search: with an INT8 tolerance no graph can meet
    (cosine > 1), every kept set within the divergence limit is rejected by it, and the search reports its gate as not
    reached instead of 'gate holds' beside a FAILED graph."""
    from droptrack.export import parity as par

    monkeypatch.setitem(par.TOLERANCES, "int8", par.Tolerance(max_abs=None, min_cosine=1.1, min_iou=0.7,
                                                               min_agreement=0.75))
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = load_config("tiny_ce_test")
    ckpt = save_checkpoint(tmp_path / "tiny.pt", build_model(cfg).eval(), cfg)
    out = tmp_path / "export"
    r = CliRunner().invoke(app, [str(a) for a in ("export", ckpt, "--int8", "--int8-target", "ort", "--calib-pairs",
                                                  8, "--auto-precision", "--val-sequences", 4, "--val-frames", 5,
                                                  "--max-divergence", 0.25, "--group-by", "kind", "-o", out)])
    assert r.exit_code == 2 and (out / "model_int8_ort.onnx.failed").is_file(), r.output
    res = json.loads((out / "auto_precision_ort.json").read_text())
    assert res["parity_failed"] and not res["passed"]
    assert all("cosine" in why for why in res["parity_failed"].values())
    assert "GATE NOT REACHED" in r.output and "gate holds" not in r.output and "failed the parity check" in r.output
