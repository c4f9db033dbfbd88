"""`dt bench -o DIR` deleted every `.*.tmp` in DIR as a killed bench's leftovers: in an export's folder, those of a
running `dt export` too (`.model_fp16.onnx.<random>.tmp`, about to be renamed). Only its own files' go now."""

from __future__ import annotations

from helpers import cli

from droptrack.data import generate_synth


def test_a_bench_removes_only_its_own_files_temporaries(tiny_ckpt, tmp_path):
    synth = generate_synth(tmp_path / "s", sequences=1, frames=4, seed=0, size=(160, 120), split="val")
    out = tmp_path / "export"
    out.mkdir()
    other = out / ".model_fp16.onnx.ab12cd34.tmp"   # a running dt export's atomic write
    other.write_bytes(b"half a graph")
    mine = out / ".bench.json.zz99yy88.tmp"         # a killed bench's
    mine.write_text("{")
    res = cli("bench", tiny_ckpt, "--data", synth, "--threads", "1", "-o", out)
    assert res.exit_code == 0, res.output
    assert other.read_bytes() == b"half a graph" and not mine.exists()
