"""Odd real-world footage through `dt run` and `dt eval`: tiny frames, folders copied from a Mac, natural order."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data import get_sequences
from droptrack.runtime.sources import open_source

runner = CliRunner()


def write_video(path: Path, frames: int, size: tuple[int, int] = (32, 24), noise: bool = False) -> Path:
    """An MJPG video: flat frames of value 50 * index, or random noise (a real decoder workload)."""
    rng = np.random.default_rng(0)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for i in range(frames):
        shape = (size[1], size[0], 3)
        w.write(rng.integers(0, 256, shape, dtype=np.uint8) if noise else np.full(shape, 50 * i, np.uint8))
    w.release()
    return path


def truncated_copy(full: Path, cut: Path) -> Path:
    """A copy of `full` that stopped at 60 % of its bytes (its header still announces every frame)."""
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    return cut


def frames_folder(folder: Path, names: list[str], size: tuple[int, int] = (48, 64)) -> Path:
    """Images with value 10 * (their number) so the order they are read in shows."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        cv2.imwrite(str(folder / n), np.full((*size, 3), 10 * int(Path(n).stem), np.uint8))
    return folder


def mac_copy(folder: Path) -> Path:
    """What a folder copied to a FAT/exFAT stick by macOS holds besides the frames."""
    for n in ("._1.png", "._10.png"):
        (folder / n).write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "4.png").mkdir()   # a folder with an image suffix is not a frame either
    return folder


def test_run_folder_skips_hidden_files_and_reads_in_natural_order(tiny_ckpt, tmp_path):
    folder = mac_copy(frames_folder(tmp_path / "clip", ["1.png", "2.png", "10.png", "3.png"]))
    with open_source(folder) as src:
        assert [int(f.image[0, 0, 0]) for f in src] == [10, 20, 30, 100]
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "--output", str(tmp_path / "b.txt")])
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 4


def test_eval_folder_reads_frames_in_the_same_natural_order_as_run(tmp_path):
    folder = mac_copy(frames_folder(tmp_path / "clip", ["1.png", "2.png", "10.png", "3.png"]))
    (folder / "groundtruth.txt").write_text("1,2,3,4\n" * 4)
    (seq,) = get_sequences("folder", folder)
    assert [p.name for p in seq.frames] == ["1.png", "2.png", "3.png", "10.png"]
    assert [int(f[0, 0, 0]) for f in seq.iter_frames()] == [10, 20, 30, 100]


def test_frames_named_by_decimal_timestamps_are_read_in_time_order(tmp_path):
    """Timestamps with varying digits after the point: 1700000000.25 comes before 1700000000.5 (the integers in
    the names put .5 first, as 5 < 25); names that are not all plain numbers keep the natural order."""
    folder = tmp_path / "cam"
    folder.mkdir()
    names = ["1700000000.5.png", "1700000001.png", "1700000000.25.png", "1700000000.75.png"]
    for value, n in zip((20, 40, 10, 30), names):   # the value is the frame's rank in time
        cv2.imwrite(str(folder / n), np.full((48, 64, 3), value, np.uint8))
    with open_source(folder) as src:
        assert [int(f.image[0, 0, 0]) for f in src] == [10, 20, 30, 40]
    (folder / "groundtruth.txt").write_text("1,2,3,4\n" * 4)
    (seq,) = get_sequences("folder", folder)
    assert [p.name for p in seq.frames] == ["1700000000.25.png", "1700000000.5.png", "1700000000.75.png",
                                            "1700000001.png"]
    other = frames_folder(tmp_path / "clip", ["1.png", "2.png", "10.png"])
    cv2.imwrite(str(other / "img_1.5.png"), np.zeros((48, 64, 3), np.uint8))   # not a plain number: natural order
    with open_source(other) as src:
        assert [int(f.image[0, 0, 0]) for f in src] == [10, 0, 20, 100]   # img_1.5: (1, 5), after 1 and before 2


def test_eval_dataset_folder_scores_a_folder_of_frames(tiny_ckpt, tmp_path):
    folder = frames_folder(tmp_path / "clip", ["1.png", "2.png", "10.png"])
    (folder / "groundtruth.txt").write_text("10,10,20,20\n" * 3)
    r = runner.invoke(app, ["eval", "--dataset", "folder", "--root", str(folder), "--checkpoint", str(tiny_ckpt),
                            "--output", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "res" / "tiny" / "clip.txt").read_text().splitlines()) == 3


def test_unreadable_frame_is_one_error_line_without_opencv_warnings(tiny_ckpt, tmp_path, capfd):
    folder = tmp_path / "float"
    folder.mkdir()
    for i in range(2):   # 32-bit float TIFFs: OpenCV's TIFF reader refuses them with a warning of its own
        cv2.imwrite(str(folder / f"{i}.tif"), np.full((24, 32, 3), 0.5, np.float32))
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "1,1,8,8"])
    err = capfd.readouterr().err
    assert r.exit_code == 2 and r.output.startswith("error: image") and "0.tif" in r.output, r.output
    assert "WARN" not in err, err


@pytest.mark.parametrize("init", ["1,1,0,3", "1,1,3", "nan,1,2,3", "500,500,5,5", "10,10,0.5,0.5", "1,1,1e-200,9"])
def test_run_error_is_the_only_line_no_blank_line_before_it(tiny_ckpt, tmp_path, init):
    folder = frames_folder(tmp_path / "clip", ["1.png", "2.png"])
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", init])
    assert r.exit_code == 2 and r.output.startswith("error: ") and r.output.count("\n") == 1, repr(r.output)


def test_save_writes_a_part_file_and_keeps_an_earlier_video_until_the_run_ends(tmp_path):
    from droptrack.runtime.sinks import TargetState, VideoSink
    from droptrack.runtime.sources import Frame

    earlier = tmp_path / "v.mp4"
    earlier.write_bytes(b"an earlier run's video")
    sink = VideoSink(earlier, 10)
    for i in range(3):
        sink.write(Frame(i, i / 10, np.full((24, 32, 3), 40 * i, np.uint8)), [TargetState([1, 1, 8, 8], 0.9, False)])
    assert earlier.read_bytes() == b"an earlier run's video"   # a kill -9 now would leave it whole
    sink.close()
    cap = cv2.VideoCapture(str(earlier))
    assert cap.isOpened() and cap.read()[0]
    cap.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


@pytest.mark.parametrize("args", [["--save", "v.mp4", "--output", "v.part.mp4"], ["--output", "b.txt", "--jsonl",
                                                                                   "b.txt.part"]])
def test_output_whose_part_file_is_another_output_is_refused(tiny_ckpt, tmp_path, args):
    folder = frames_folder(tmp_path / "clip", ["1.png", "2.png"])
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "1,1,8,8",
                            *[str(tmp_path / a) if not a.startswith("--") else a for a in args]])
    assert r.exit_code == 2 and r.output.startswith("error: ") and "own path" in r.output, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


@pytest.mark.parametrize("source, option, out", [("clip.part.avi", "--save", "clip.avi"),
                                                 ("b.txt.part", "--output", "b.txt"),
                                                 ("r.jsonl.part", "--jsonl", "r.jsonl")])
def test_output_whose_part_file_is_the_source_is_refused(tiny_ckpt, tmp_path, source, option, out):
    src = tmp_path / source
    write_video(tmp_path / "clip.avi", 3).rename(src)
    before = src.read_bytes()
    r = runner.invoke(app, ["run", str(src), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "1,1,8,8",
                            option, str(tmp_path / out)])
    assert r.exit_code == 2 and r.output.startswith("error: ") and "is the input" in r.output, r.output
    assert src.read_bytes() == before and not (tmp_path / out).exists()


def test_eval_of_a_corrupt_video_is_one_line_without_ffmpeg_log(tmp_path):
    import os
    import subprocess
    import sys

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)   # an mp4 header, then garbage
    (tmp_path / "clip.txt").write_text("1,1,4,4\n" * 3)
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    r = subprocess.run([sys.executable, "-m", "droptrack", "eval", "--dataset", "video", "--root", str(video),
                        "--tracker", "kcf", "--output", str(tmp_path / "res")], env=env, capture_output=True,
                       text=True, timeout=120)
    lines = [line for line in r.stderr.splitlines() if line.strip() and not line.startswith("overall ")]   # bar
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "clip.mp4" in lines[0], lines


@pytest.mark.parametrize("names, extra", [(["1.png"], []), (["1.png", "2.png"], ["--max-frames", "1"])])
def test_run_of_a_single_frame_reports_no_nan(tiny_ckpt, tmp_path, names, extra):
    folder = frames_folder(tmp_path / "clip", names)
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "--output", str(tmp_path / "b.txt"), *extra])
    assert r.exit_code == 0, r.output
    assert "nan" not in r.output.lower() and "no frame tracked after the init frame" in r.output, r.output
    assert (tmp_path / "b.txt").read_text() == "10\t10\t20\t20\n"


@pytest.mark.parametrize("args, word", [(["--sequences", "0"], "--sequences"), (["--frames", "1"], "--frames"),
                                        (["--checkpoint", "missing.pt"], "not found"),
                                        (["--checkpoint", "notes.txt"], "corrupt")])
def test_demo_refuses_bad_options_before_any_step(tmp_path, monkeypatch, args, word):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a model\n")
    r = runner.invoke(app, ["demo", "--output", str(tmp_path / "out"), *args])
    assert r.exit_code == 2 and r.output.startswith("error: ") and r.output.count("\n") == 1, r.output
    assert word in r.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["wow!.avi", "take 2!"])
def test_a_file_or_folder_named_with_an_exclamation_mark_is_not_a_gstreamer_pipeline(tmp_path, name):
    path = tmp_path / name
    if path.suffix:
        write_video(path, 2)
    else:
        frames_folder(path, ["1.png", "2.png"])
    with open_source(str(path)) as src:
        assert len(list(src)) == 2


def test_run_notes_a_video_that_ends_before_its_header_frame_count(tiny_ckpt, tmp_path):
    full = write_video(tmp_path / "full.avi", 6, (64, 48), noise=True)
    cut = truncated_copy(full, tmp_path / "cut.avi")
    r = runner.invoke(app, ["run", str(cut), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20",
                            "--output", str(tmp_path / "b.txt")])
    n = len((tmp_path / "b.txt").read_text().splitlines())
    assert r.exit_code == 0 and 1 <= n < 6, r.output
    assert f"note: the source ended after {n} of the 6 frames its header announces" in r.output, r.output
    r = runner.invoke(app, ["run", str(full), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20"])
    assert r.exit_code == 0 and "note:" not in r.output, r.output


def test_eval_datasets_skip_hidden_videos_and_sequence_folders(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "clip.avi", 3)
    (videos / "clip.txt").write_text("1,1,4,4\n" * 3)
    (videos / "._clip.avi").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (videos / "._clip.txt").write_bytes(b"\x00\x05\x16\x07")
    assert [s.name for s in get_sequences("video", videos)] == ["clip"]
    root = tmp_path / "seqs"
    for name in ("walk", ".walk_backup"):
        frames_folder(root / name, ["1.png", "2.png"])
    assert [s.name for s in get_sequences("folder", root)] == ["walk"]


def test_video_without_gt_shorter_than_its_header_names_the_header_not_an_annotation(tmp_path):
    from droptrack.errors import DatasetError

    cut = truncated_copy(write_video(tmp_path / "full.avi", 6, (64, 48), noise=True), tmp_path / "cut.avi")
    with pytest.warns(UserWarning, match=r"decodes only (\d) of the 6 frames its header announces.*those \1 frames "
                                         "are used$"):
        (seq,) = get_sequences("video", cut)
    assert 0 < len(seq) < 6 and len(list(seq.iter_frames())) == len(seq)   # the frames that decode, all read
    (cut.with_suffix(".txt")).write_text("1,1,4,4\n" * 6)
    (seq,) = get_sequences("video", cut)
    with pytest.raises(DatasetError, match="but the annotation has 6; re-encode the video or trim cut.txt$"):
        list(seq.iter_frames())


@pytest.mark.parametrize("init, first", [("-20,-10,40,30", "0\t0\t20\t20"), ("0,0,120,90", "0\t0\t64\t48"),
                                         ("50,40,30,30", "50\t40\t14\t8"), ("5.5,6.25,10.75,12.5", "5\t6\t10\t12")])
def test_reported_init_box_is_its_part_inside_the_frame(tiny_ckpt, tmp_path, init, first):
    folder = frames_folder(tmp_path / "clip", ["1.png", "2.png", "3.png"])
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", f"--init={init}",
                            "--output", str(tmp_path / "b.txt")])
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "b.txt").read_text().splitlines()
    assert lines[0] == first
    for line in lines:
        x, y, w, h = map(int, line.split("\t"))
        assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 48 and w > 0 and h > 0, line


@pytest.mark.parametrize("first_row, reason", [("nan,nan,nan,nan", "finite"), ("500,500,10,10", "outside"),
                                               ("10,10,0,10", "zero or negative")])
def test_eval_unusable_first_gt_box_points_at_the_annotation_not_at_init(tiny_ckpt, tmp_path, first_row, reason):
    folder = frames_folder(tmp_path / "clip", ["1.png", "2.png", "3.png"])
    (folder / "groundtruth.txt").write_text(f"{first_row}\n" + "10,10,20,20\n" * 2)
    r = runner.invoke(app, ["eval", "--dataset", "folder", "--root", str(folder), "--checkpoint", str(tiny_ckpt),
                            "--output", str(tmp_path / "res")])
    assert r.exit_code == 2 and "first ground-truth box" in r.output and reason in r.output, r.output
    assert "--init" not in r.output and "array(" not in r.output, r.output


def test_save_of_frames_smaller_than_the_encoders_handle(tiny_ckpt, tmp_path):
    import os
    import subprocess
    import sys

    from droptrack.runtime.sinks import TargetState, VideoSink
    from droptrack.runtime.sources import Frame

    folder = frames_folder(tmp_path / "clip", ["1.png", "2.png", "3.png"], size=(4, 5))
    out = tmp_path / "v.avi"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    r = subprocess.run([sys.executable, "-m", "droptrack", "run", str(folder), "-m", str(tiny_ckpt), "--device",
                        "cpu", "--init", "0,0,3,3", "--save", str(out)], env=env, capture_output=True, text=True,
                       timeout=120)   # a subprocess: OpenCV's MJPG writer aborted the process on 5x4 frames
    assert r.returncode == 0, r.stderr[-500:]
    for path in (out, tmp_path / "v.mp4"):
        if path.suffix == ".mp4":   # in-process: mp4v survives tiny frames, the video is scaled up all the same
            sink = VideoSink(path, 10)
            for i in range(3):
                sink.write(Frame(i, i / 10, np.zeros((4, 5, 3), np.uint8)), [TargetState([0, 0, 3, 3], None, False)])
            sink.close()
        cap = cv2.VideoCapture(str(path))
        n = 0
        while cap.read()[0]:
            n += 1
        assert n == 3 and (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (40, 32), path


@pytest.mark.parametrize("option", ["--output", "--jsonl", "--save"])
def test_output_with_a_trailing_slash_is_a_folder_not_a_file(tiny_ckpt, tmp_path, option):
    folder = frames_folder(tmp_path / "clip", ["1.png", "2.png"])
    r = runner.invoke(app, ["run", str(folder), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "1,1,8,8",
                            option, str(tmp_path / "out") + "/"])
    assert r.exit_code == 2 and r.output.startswith("error: ") and "is a folder" in r.output, r.output
    assert not (tmp_path / "out").exists()


def test_run_notes_an_output_where_eval_reads_ground_truth(tiny_ckpt, tmp_path):
    """`dt run clip.avi --output clip.txt` writes where dt eval / dt bench read clip.avi's ground truth: a note
    says so (and `dt eval --dataset video` then indeed scores against those boxes); another name: no note."""
    clip = write_video(tmp_path / "clip.avi", 4, (64, 48), noise=True)
    base = ["run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--init", "10,10,20,20", "--output"]
    r = runner.invoke(app, base + [str(tmp_path / "boxes.txt")])
    assert r.exit_code == 0 and "ground truth" not in r.output, r.output
    r = runner.invoke(app, base + [str(tmp_path / "clip.txt")])
    assert r.exit_code == 0 and "is where dt eval and dt bench read clip.avi's ground truth" in r.output, r.output
    (seq,) = get_sequences("video", clip)
    assert len(seq.boxes) == 4 and np.isfinite(seq.boxes).all()      # the tracked boxes now pose as ground truth
