"""dt eval --dataset PATH (a video or a frames folder given where a dataset name goes): one line naming --root, exit 2,
nothing written. A video said '--output VIDEO is a file' (the default output results/<dataset> is the path itself);
a folder said only 'unknown dataset'."""

from __future__ import annotations

from droptrack.data.synth import generate_synth
from helpers import cli, one_line_error


def test_video_path_as_dataset_names_the_root_option(video, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = video.read_bytes()
    line = one_line_error(cli("eval", "--dataset", video))
    assert line == (f"error: --dataset takes a dataset name, and '{video}' is a file: pass --dataset video "
                    f"--root {video}")
    assert video.read_bytes() == before and list(tmp_path.iterdir()) == []


def test_folder_path_as_dataset_names_the_root_option(tmp_path, monkeypatch):
    root = generate_synth(tmp_path / "frames", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("eval", "--dataset", root))
    assert line == (f"error: --dataset takes a dataset name, and '{root}' is a folder: pass --dataset folder "
                    f"--root {root}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_a_misspelt_name_that_is_no_path_still_lists_the_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("eval", "--dataset", "lasott"))
    assert line.startswith("error: unknown dataset 'lasott'; valid names: lasot")


def test_analyze_with_a_video_path_as_dataset_names_the_root_option(video, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "res").mkdir()
    assert one_line_error(cli("analyze", tmp_path / "res", "--dataset", video)) == (
        f"error: --dataset takes a dataset name, and '{video}' is a file: pass --dataset video --root {video}")
