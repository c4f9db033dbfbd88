"""benchmarks/bench_demo.py prints the export's lines and the bench's closing lines (paths of the checkpoint and the
reports) as plain text: a --model under a folder that reads as rich markup ('[bold]c[' / 'x]') ended the script in a
MarkupError traceback."""

from __future__ import annotations

import runpy
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_model_path_that_reads_as_rich_markup_is_printed_as_it_is(tiny_ckpt, tmp_path, monkeypatch, capsys):
    """The script runs in this process (as `python benchmarks/bench_demo.py ...`, sparing a torch start-up): a
    MarkupError would leave it as an exception, failing the test."""
    ckpt = tmp_path / "[bold]c[" / "x]" / "tiny.pt"   # the path reads '.../[bold]c[/x]/tiny.pt'
    ckpt.parent.mkdir(parents=True)
    shutil.copy(tiny_ckpt, ckpt)
    script = ROOT / "benchmarks" / "bench_demo.py"
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "argv", [str(script), "--model", str(ckpt), "--sequences", "1", "--frames", "3",
                                      "--threads", "1", "--work", str(tmp_path / "work"), "--out",
                                      str(tmp_path / "out")])
    try:
        runpy.run_path(str(script), run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code in (0, 1, None) and "Traceback" not in err, out + err   # 1: a gate failed
    text = "".join(out.split())   # long lines may wrap anywhere
    assert f"loaded{ckpt}(" in text and f"reference:{ckpt}(" in text, out
