"""The `next:` lines of dt export and dt bench with --config, pasted as printed.

`dt export --config grid.yaml` of the embedded model (README: "put `CROP_GRID: 0.1` in the config's TEST section and
pass that config to `dt export --config grid.yaml`") printed `next: dt bench model.onnx model_fp16.onnx` without the
config: dt bench then tracked the embedded reference without the grid, and refused the graphs (exit 2). And
`dt bench GRAPHS --config grid.yaml` printed `next: dt run ... --model model.onnx --config grid.yaml`, which dt run
refuses: a graph carries the config it was exported with.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import droptrack
from droptrack.data import generate_synth
from helpers import cli, pasted

pytestmark = pytest.mark.usefixtures("one_thread")


def _next(output: str, verb: str) -> list[str]:
    lines = [ln.removeprefix("next: ") for ln in output.splitlines() if ln.startswith(f"next: dt {verb} ")]
    assert len(lines) == 1, output
    return pasted(lines[0])   # the words after `dt`


def test_export_and_bench_next_lines_with_a_config_run_as_printed(tmp_path):
    embedded = Path(droptrack.__file__).parent / "configs" / "droptrack_tiny_synth.yaml"
    cfg = yaml.safe_load(embedded.read_text())
    assert cfg["TEST"]["CROP_GRID"] == 0.1       # the checkpoint carries this; the config below tracks otherwise
    cfg["TEST"]["CROP_GRID"] = 0.05
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "deploy"
    r = cli("export", "--config", grid, "-o", out)
    assert r.exit_code == 0, r.output
    bench = _next(r.output, "bench")
    assert bench[:2] == ["bench", str(out / "model.onnx")] and bench[-2:] == ["--config", str(grid)], bench

    synth = generate_synth(tmp_path / "synth", sequences=1, frames=4, seed=0, size=(160, 120), split="val")
    r = cli(*bench, "--data", synth, "--threads", "1", "-o", tmp_path / "bench")
    assert r.exit_code == 0, r.output           # refused before: the reference tracked without the grid

    run = _next(r.output, "run")
    assert "--config" not in run and run[run.index("--model") + 1] == str(out / "model.onnx"), run
    seq = next(p for p in sorted(synth.iterdir()) if p.is_dir())
    box = (seq / "groundtruth.txt").read_text().splitlines()[0]
    run[run.index("VIDEO")], run[run.index("X,Y,W,H")] = str(seq), box
    r = cli(*run)
    assert r.exit_code == 0, r.output           # refused before: '--config applies to checkpoints'
