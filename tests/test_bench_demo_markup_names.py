"""benchmarks/bench_demo.py prints the export's lines and the bench's closing lines (paths of the checkpoint and the
reports) as plain text: a --model under a folder that reads as rich markup ('[bold]c[' / 'x]') ended the script in a
MarkupError traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_model_path_that_reads_as_rich_markup_is_printed_as_it_is(tiny_ckpt, tmp_path):
    ckpt = tmp_path / "[bold]c[" / "x]" / "tiny.pt"   # the path reads '.../[bold]c[/x]/tiny.pt'
    ckpt.parent.mkdir(parents=True)
    shutil.copy(tiny_ckpt, ckpt)
    env = {**os.environ, "DT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_demo.py"), "--model", str(ckpt),
                        "--sequences", "1", "--frames", "3", "--threads", "1", "--work", str(tmp_path / "work"),
                        "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stdout + r.stderr   # 1: a gate failed
    text = "".join(r.stdout.split())   # long lines may wrap anywhere
    assert f"loaded{ckpt}(" in text and f"reference:{ckpt}(" in text, r.stdout
