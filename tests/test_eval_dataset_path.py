"""dt eval --dataset PATH (a video or a frames folder given where a dataset name goes): one line naming --root, exit 2,
nothing written. A video said '--output VIDEO is a file' (the default output results/<dataset> is the path itself);
a folder said only 'unknown dataset'."""

from __future__ import annotations

from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data.synth import generate_synth

runner = CliRunner()


def error_line(args: list) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_video_path_as_dataset_names_the_root_option(video, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = video.read_bytes()
    assert error_line(["eval", "--dataset", video]) == (f"error: --dataset takes a dataset name, and '{video}' is a "
                                                        f"file: pass --dataset video --root {video}")
    assert video.read_bytes() == before and list(tmp_path.iterdir()) == []


def test_folder_path_as_dataset_names_the_root_option(tmp_path, monkeypatch):
    root = generate_synth(tmp_path / "frames", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    monkeypatch.chdir(tmp_path)
    assert error_line(["eval", "--dataset", root]) == (f"error: --dataset takes a dataset name, and '{root}' is a "
                                                       f"folder: pass --dataset folder --root {root}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_a_misspelt_name_that_is_no_path_still_lists_the_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert error_line(["eval", "--dataset", "lasott"]).startswith("error: unknown dataset 'lasott'; valid names: lasot")


def test_analyze_with_a_video_path_as_dataset_names_the_root_option(video, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "res").mkdir()
    assert error_line(["analyze", tmp_path / "res", "--dataset", video]) == (
        f"error: --dataset takes a dataset name, and '{video}' is a file: pass --dataset video --root {video}")
