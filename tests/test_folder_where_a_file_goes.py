"""A folder where dt writes a file (OUTPUT/model.onnx/, a results folder's <seq>.txt/, boxes.txt.part/): one line,
exit 2, the folder left as it was (each was an IsADirectoryError traceback, exit 1)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data.synth import generate_synth

runner = CliRunner()


def refused_for(args: list, folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "keep.txt").write_text("mine\n")
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    last = [ln for ln in result.output.splitlines() if ln.strip()][-1]
    assert last == (f"error: '{folder}' is a folder where dt writes a file (nothing was put in it); move or rename "
                    "that folder, or pass another output path")
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"] and (folder / "keep.txt").read_text() == "mine\n"


def test_export_graph_name_taken_by_a_folder(tiny_ckpt, tmp_path):
    refused_for(["export", tiny_ckpt, "--output", tmp_path / "exp"], tmp_path / "exp" / "model.onnx")


def test_eval_result_file_name_taken_by_a_folder(tiny_ckpt, tmp_path):
    root = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    refused_for(["eval", "--dataset", "synth", "--root", root, "--split", "val", "-m", tiny_ckpt, "--output",
                 tmp_path / "ev"], tmp_path / "ev" / "tiny" / "synth_val_00001.txt")


def test_run_part_file_name_taken_by_a_folder(tiny_ckpt, video, tmp_path):
    refused_for(["run", video, "-m", tiny_ckpt, "--device", "cpu", "--init", "60,40,40,50", "--max-frames", "2",
                 "--output", tmp_path / "boxes.txt"], tmp_path / "boxes.txt.part")
