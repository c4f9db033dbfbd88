"""`dt bench` tracks one row after another, and its progress said only 'overall 1/8 seq' (and, in a log, lines
'[1/8 seq, ...] done synth_val_00001' for every row alike): which artifact, the reference or a baseline was being
tracked could not be told. Each bar and line now names its tracker."""

from __future__ import annotations

import io
import re

from helpers import cli

from droptrack.eval import progress
from droptrack.eval.progress import EvalProgress


class _Seq:
    def __init__(self, name: str, n: int):
        self.name, self.n = name, n

    def __len__(self) -> int:
        return self.n


def test_lines_name_the_tracker(monkeypatch):
    monkeypatch.setattr(progress, "LINE_GAP_S", 0.0)
    out = io.StringIO()
    with EvalProgress([_Seq("s1", 4)], resumed=0, stream=out, label="model_fp16") as display:
        display.update("s1", 4, 4)
        display.finish("s1", 4)
    assert re.fullmatch(r"\[model_fp16 1/1 seq, 4/4 frames, [\d.]+ FPS, ETA [\d:?]+\] done s1 \(4 frames\)\n",
                        out.getvalue()), out.getvalue()


def test_the_bar_title_names_the_tracker():
    display = EvalProgress([_Seq("s1", 4)], resumed=1, enabled=False, label="tiny[fp16]")
    assert display._title() == "tiny[fp16] 1/2 seq"   # as it is: the bar's description column reads no markup
    assert EvalProgress([_Seq("s1", 4)], resumed=0, enabled=False)._title() == "overall 0/1 seq"


def test_each_bench_row_s_progress_lines_name_it(tiny_ckpt, tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "LINE_GAP_S", 0.0)   # a line per finished sequence (else one per 10 s at most)
    res = cli("bench", tiny_ckpt, "--tracker", "kcf", "--sequences", "1", "--frames", "3", "--threads", "1",
              "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    done = [ln for ln in res.output.splitlines() if "] done synth_val_00001" in ln]
    assert [ln.split()[0] for ln in done] == ["[tiny", "[kcf"], res.output
