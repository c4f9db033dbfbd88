"""dt bench on one video said its ΔAUC 'comes from 1 sequence' and advised '--data with a dataset, or --sequences':
--sequences cuts a set or sizes the synthetic one, and a video is one sequence whatever it says. The advice is now
one that applies to the data benched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from droptrack.eval.bench_data import BenchData, more_sequences
from droptrack.eval.bench_gates import DeltaCI, ci_note, divergence_note
from helpers import FakeSeq, cli


def _data(kind: str, n: int) -> BenchData:
    seqs = [FakeSeq(f"s{i}", kind, np.zeros((5, 4))) for i in range(n)]
    return BenchData(kind, "x", None, kind, seqs)


def test_a_video_is_not_told_to_pass_sequences():
    more = more_sequences(_data("video", 1), None)
    assert "--sequences" not in more and "a dataset" in more, more
    assert "--sequences" not in more_sequences(_data("video", 1), 1)   # --sequences 1 of a video: still one
    note = ci_note("model", DeltaCI(-1.55, -1.55, -1.55, 1), 0.1, more)
    assert note.endswith(f"bench 20 or more sequences ({more}) before trusting it"), note
    per = {"s0": {"divergence": 0.2, "frames": 5}}
    assert divergence_note("model", per, 0.03, more).endswith(f"more sequences ({more}) before trusting it")


def test_sets_that_sequences_sizes_or_cut_are_told_to_pass_more():
    assert more_sequences(_data("synthetic", 1), 1) == "a larger --sequences"
    assert "a larger --sequences" in more_sequences(_data("dataset", 3), 3)   # cut to 3 by --sequences 3
    assert "--sequences" not in more_sequences(_data("folder", 1), None)      # one frame folder, nothing cut


@pytest.mark.slow
def test_dt_bench_on_one_video_advises_what_applies(tiny_ckpt, video, tmp_path):
    obj = torch.load(tiny_ckpt, weights_only=True)
    obj["training"] = {"note": "another file of the same weights"}   # not the reference's file: its row gets notes
    torch.save(obj, tmp_path / "copy.pt")
    r = cli("bench", tmp_path / "copy.pt", "--reference", tiny_ckpt, "--data", video, "--init", "60,40,40,50",
            "--frames", "3", "--device", "cpu", "-o", tmp_path / "b")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "comes from 1 sequence" in text and "bench 20 or more sequences (--data with a dataset" in text, text
    assert "--sequences)" not in text and "a larger --sequences" not in text, text
