"""One's own footage (`dt train --data MINE`, `dt eval --dataset synth|folder|video`): every box row stays with its
own frame, or the set is refused in one line naming the fix."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.errors import DatasetError
from helpers import text

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def _frames(seq, names):
    """Frames of grey levels 20 * i (mod 250) for the i-th named file."""
    seq.mkdir(parents=True, exist_ok=True)
    for i, nm in enumerate(names):
        cv2.imwrite(str(seq / nm), np.full((24, 32, 3), 20 * i % 250, np.uint8))


@pytest.mark.parametrize("reader", ["synth", "folder"])
def test_a_blank_line_between_rows_is_refused_not_skipped(tmp_path, reader):
    """An annotation tool that leaves a frame without a box as an empty line: the line was skipped, so the box of
    frame 3 went to frame 2 (and every later one a frame early), silently."""
    seq = tmp_path / "porch_cam"
    _frames(seq, [f"{i:08d}.jpg" for i in range(1, 5)])
    text(seq / "groundtruth.txt", "1,2,10,8\n\n3,4,10,8\n4,5,10,8\n")
    with pytest.raises(DatasetError, match=r"groundtruth\.txt:2: blank line between box rows.*NaN,NaN,NaN,NaN") as e:
        get_sequences(reader, tmp_path if reader == "synth" else seq)
    assert "\n" not in str(e.value)
    text(seq / "groundtruth.txt", "1,2,10,8\nnan,nan,nan,nan\n3,4,10,8\n4,5,10,8\n\n\n")   # as told; blank at the end
    (s,) = get_sequences(reader, tmp_path if reader == "synth" else seq)
    assert s.boxes[2].tolist() == [3, 4, 10, 8] and np.isnan(s.boxes[1]).all()


def test_a_blank_line_in_a_videos_box_file_is_refused(tmp_path):
    from droptrack.data.folder import own_boxes

    text(tmp_path / "clip.txt", "1,2,10,8\n\n3,4,10,8\n")
    with pytest.raises(DatasetError, match=r"clip\.txt:2: blank line"):
        own_boxes(tmp_path / "clip.txt")


def test_frames_numbered_from_zero_keep_the_first_row_on_the_first_frame(tmp_path):
    """ffmpeg -start_number 0 (or OpenCV's frame index) writes 00000000.jpg ...: the reader took 00000001.jpg as the
    first frame, so row 1 went to the second frame; with one image per row it said to trim groundtruth.txt."""
    seq = tmp_path / "porch_cam"
    _frames(seq, [f"{i:08d}.jpg" for i in range(3)])
    text(seq / "groundtruth.txt", "1,2,10,8\n2,3,10,8\n3,4,10,8\n")
    (s,) = get_sequences("synth", tmp_path)
    assert [p.name for p in s.frames] == ["00000000.jpg", "00000001.jpg", "00000002.jpg"]
    assert [int(s.frame(i)[0, 0, 0]) for i in range(3)] == [0, 20, 40]


@pytest.mark.parametrize("reader", ["synth", "folder"])
@pytest.mark.parametrize("names", [[f"{i:08d}.jpg" for i in range(1, 5)], [f"frame_{i}.png" for i in range(1, 5)]])
def test_more_frames_than_rows_is_refused_naming_the_fix(tmp_path, names, reader):
    """A tool that writes a row only for the frames where the target is: 3 rows for 4 frames were read as the
    boxes of frames 1-3 (the last one a frame early) and frame 4 was left out, silently (--dataset folder too, as
    README says of one's own footage)."""
    seq = tmp_path / "porch_cam"
    _frames(seq, names)
    text(seq / "groundtruth.txt", "1,2,10,8\n3,4,10,8\n4,5,10,8\n")
    root = tmp_path if reader == "synth" else seq
    with pytest.raises(DatasetError, match=r"porch_cam has 4 images but 3 GT rows .*NaN,NaN,NaN,NaN") as e:
        get_sequences(reader, root)
    assert "\n" not in str(e.value)
    text(seq / "groundtruth.txt", "1,2,10,8\nnan,nan,nan,nan\n3,4,10,8\n4,5,10,8\n")   # as told
    (s,) = get_sequences(reader, root)
    assert len(s.frames) == 4 and s.valid().tolist() == [True, False, True, True]


def test_dt_eval_of_a_frame_folder_with_more_images_than_rows_is_one_line(tmp_path):
    """dt eval --dataset folder scored the 3 frames with rows and left the 4th out without a word."""
    from helpers import cli, one_line_error

    seq = tmp_path / "porch_cam"
    _frames(seq, [f"{i:08d}.jpg" for i in range(1, 5)])
    text(seq / "groundtruth.txt", "1,2,10,8\n2,3,10,8\n3,4,10,8\n")
    args = ["eval", "--dataset", "folder", "--root", seq, "--tracker", "kcf", "--output", tmp_path / "out"]
    line = one_line_error(cli(*args))
    assert "porch_cam has 4 images but 3 GT rows" in line and "move the images past frame 3" in line, line
    assert not (tmp_path / "out").exists()
    (seq / "00000004.jpg").unlink()   # as told
    assert cli(*args).exit_code == 0


def test_own_footage_in_lasots_layout_as_synth_names_the_layout_it_reads(tmp_path):
    """<class>/<class>-N/img/ + groundtruth.txt given as dt train --data MINE: the refusal said the root should hold
    <seq>/groundtruth.txt + 00000001.jpg and to fix the path, not that the sequences were there in another layout."""
    from droptrack.errors import TrainingError
    from droptrack.train.data import check_nonempty, load_datasets

    seq = tmp_path / "drone" / "drone-1"
    _frames(seq / "img", [f"{i:08d}.jpg" for i in range(1, 4)])
    text(seq / "groundtruth.txt", "1,2,10,8\n2,3,10,8\n3,4,10,8\n")
    text(seq / "full_occlusion.txt", "0,0,0\n")
    text(seq / "out_of_view.txt", "0,0,0\n")
    roots = {"SYNTH": str(tmp_path)}
    with pytest.raises(TrainingError, match=r"holds 1 sequence\(s\) in LaSOT's layout .*drone-1.*GOT-10k's: move each "
                                            r"<class>-N/ folder \(its img/ and groundtruth\.txt\) up") as e:
        check_nonempty(["SYNTH"], [1.0], roots, load_datasets(["SYNTH"], roots))
    assert "\n" not in str(e.value)
    (tmp_path / "drone" / "drone-1").rename(tmp_path / "drone-1")   # as told
    assert [s.name for s in load_datasets(["SYNTH"], roots)[0]] == ["drone-1"]


def _clip(path, frames=24):
    """A video of a bright square drifting right on grey, and its boxes as clip.txt beside it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    rows = []
    for i in range(frames):
        img = np.full((48, 64, 3), 90, np.uint8)
        img[16:28, 8 + i:20 + i] = 230
        writer.write(img)
        rows.append(f"{8 + i},16,12,12\n")
    writer.release()
    text(path.with_suffix(".txt"), "".join(rows))


def test_val_data_of_videos_with_boxes_validates_and_names_the_eval_that_reads_them(tmp_path, monkeypatch):
    """Held-out videos with their box files (as dt eval --dataset video reads them) were 'no annotated sequences',
    although README says --val-data reads its folder as dt eval does."""
    import shlex

    from helpers import cli

    monkeypatch.chdir(tmp_path)
    seq = tmp_path / "mine" / "porch_cam"
    _frames(seq, [f"{i:08d}.jpg" for i in range(1, 21)])
    text(seq / "groundtruth.txt", "4,3,12,10\n" * 20)
    (tmp_path / "held").mkdir()
    _clip(tmp_path / "held" / "gate.avi")
    res = cli("train", "-c", "tiny_ce_test", "--data", "mine", "--val-data", "held", "-o", "runs/trial", "--epochs",
              "1", "--samples-per-epoch", "2", "--batch-size", "2", "--workers", "0")
    assert res.exit_code == 0, res.output
    assert "val_auc" in res.output
    score = shlex.split(res.output.splitlines()[-1].split("(or score it: ")[1].rstrip(")"))
    assert score[:5] == ["dt", "eval", "--dataset", "video", "--root"] and score[5] == "held"
    assert cli(*score[1:]).exit_code == 0


def test_a_refused_resume_names_the_options_that_continue_the_run(tmp_path):
    """A trial resumed with other --samples-per-epoch and --batch-size: the refusal named one config key
    (DATA.TRAIN.SAMPLE_PER_EPOCH), and the retry with it fixed was refused for the next (TRAIN.BATCH_SIZE)."""
    from helpers import cli, one_line_error

    seq = tmp_path / "mine" / "porch_cam"
    _frames(seq, [f"{i:08d}.jpg" for i in range(1, 21)])
    text(seq / "groundtruth.txt", "4,3,12,10\n" * 20)
    base = ["train", "-c", "tiny_ce_test", "--data", tmp_path / "mine", "-o", tmp_path / "out", "--epochs", "1",
            "--workers", "0"]
    assert cli(*base, "--samples-per-epoch", "4", "--batch-size", "2").exit_code == 0
    shutil.copyfile(tmp_path / "out" / "final.pt", tmp_path / "first.pt")   # out/final.pt itself is refused
    line = one_line_error(cli(*base, "--samples-per-epoch", "8", "--batch-size", "4", "--epochs", "2", "--resume",
                              "--pretrained", tmp_path / "first.pt"))   # said nothing before the error
    assert "(here: --batch-size 2 --samples-per-epoch 4; only --epochs" in line, line
    res = cli(*base, "--samples-per-epoch", "4", "--batch-size", "2", "--epochs", "2", "--resume")   # as told
    assert res.exit_code == 0, res.output


def test_two_trained_runs_exported_as_told_keep_both_graphs(tmp_path, monkeypatch):
    """dt train's next line was `dt export RUN/final.pt`, whose default --output is out/export for every checkpoint:
    the second fine-tune's export silently replaced the first one's model.onnx."""
    import shlex

    from helpers import cli

    monkeypatch.chdir(tmp_path)
    seq = tmp_path / "mine" / "porch_cam"
    _frames(seq, [f"{i:08d}.jpg" for i in range(1, 21)])
    text(seq / "groundtruth.txt", "4,3,12,10\n" * 20)
    graphs = []
    for run in ("runs/a", "runs/b"):
        res = cli("train", "-c", "tiny_ce_test", "--data", "mine", "-o", run, "--epochs", "1", "--samples-per-epoch",
                  "2", "--batch-size", "2", "--workers", "0", "--seed", str(len(graphs)))
        assert res.exit_code == 0, res.output
        line = next(ln for ln in res.output.splitlines() if ln.startswith("next: "))
        assert cli(*shlex.split(line.removeprefix("next: ").split("   (")[0])[1:]).exit_code == 0
        graphs.append(sorted(tmp_path.rglob("model.onnx")))
    assert len(graphs[1]) == 2 and graphs[0][0] in graphs[1]


def _seq(folder, rows=20):
    _frames(folder, [f"{i:08d}.jpg" for i in range(1, rows + 1)])
    text(folder / "groundtruth.txt", "4,3,12,10\n" * rows)


def test_own_footage_copied_into_a_generated_set_is_not_left_out_silently(tmp_path):
    """`--data SYNTH` given twice says to put the sequences under one folder: copied into a `dt data synth` set,
    they were never read (its list.txt names its own), and the run trained on the generated ones only."""
    from droptrack.data.synth import generate_synth

    generate_synth(tmp_path / "set", sequences=1, frames=20)
    _seq(tmp_path / "set" / "porch_cam")
    with pytest.raises(DatasetError, match=r"holds 1 sequence folder\(s\) that its list\.txt does not name "
                                           r"\(porch_cam\), which would be left out; add them to") as e:
        get_sequences("synth", tmp_path / "set")
    assert "\n" not in str(e.value)
    with open(tmp_path / "set" / "list.txt", "a") as f:   # as told
        f.write("porch_cam\n")
    assert [s.name for s in get_sequences("synth", tmp_path / "set")] == ["synth_train_00001", "porch_cam"]


def test_generated_sequences_copied_beside_ones_own_are_read(tmp_path):
    """The other way round, its folders copied beside one's own footage (no list.txt, no synth.json): refused as 'its
    generation was interrupted; run the same dt data synth command again', which no command had written there."""
    import shutil

    from droptrack.data.synth import generate_synth

    generate_synth(tmp_path / "set", sequences=1, frames=20)
    _seq(tmp_path / "mine" / "porch_cam")
    shutil.copytree(tmp_path / "set" / "synth_train_00001", tmp_path / "mine" / "synth_train_00001")
    assert [s.name for s in get_sequences("synth", tmp_path / "mine")] == ["porch_cam", "synth_train_00001"]


def test_own_frames_in_an_img_folder_are_read_as_dt_eval_folder_reads_them(tmp_path):
    """<seq>/img/ beside <seq>/groundtruth.txt (LaSOT's and OTB's frame folder, and dt eval --dataset folder's): it
    was '30 GT rows but 0 images; add the missing frames or trim groundtruth.txt'."""
    seq = tmp_path / "porch_cam"
    _frames(seq / "img", [f"{i:08d}.jpg" for i in range(1, 4)])
    text(seq / "groundtruth.txt", "1,2,10,8\n2,3,10,8\n3,4,10,8\n")
    (s,) = get_sequences("synth", tmp_path)
    assert [p.relative_to(seq).as_posix() for p in s.frames] == [f"img/{i:08d}.jpg" for i in range(1, 4)]
    _frames(seq / "img", [f"{i:08d}.jpg" for i in range(1, 5)])
    with pytest.raises(DatasetError, match="has 4 images but 3 GT rows"):
        get_sequences("synth", tmp_path)


def test_training_on_footage_annotated_on_its_first_frame_only_names_the_file(tmp_path, monkeypatch):
    """A groundtruth.txt with only the first frame's box (as a GOT-10k test split's) reads as a sequence without
    ground truth past frame 0, which the pair sampler never draws: dt train said only 'training dataset SYNTH has no
    usable sequence (1 read; a video needs >= 20 frames ...)'. It now names the file and says training needs a box
    per frame; once the boxes are there the same command trains."""
    from helpers import cli, one_line_error

    monkeypatch.chdir(tmp_path)
    seq = tmp_path / "mine" / "porch_cam"
    _frames(seq, [f"{i:08d}.jpg" for i in range(1, 21)])
    text(seq / "groundtruth.txt", "4,3,12,10\n")
    args = ["train", "-c", "tiny_ce_test", "--data", "mine", "-o", "runs/trial", "--epochs", "1",
            "--samples-per-epoch", "2", "--batch-size", "2", "--workers", "0"]
    line = one_line_error(cli(*args))
    assert "mine/porch_cam/groundtruth.txt holds a box for the first of its 20 frames only" in line, line
    assert "training needs a box on every frame" in line and "no usable sequence" not in line, line
    assert not (tmp_path / "runs" / "trial").exists()
    text(seq / "groundtruth.txt", "4,3,12,10\n" * 20)
    assert cli(*args).exit_code == 0
