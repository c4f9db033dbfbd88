"""dt export --int8's data options are read before the export: an empty --calib root or a --val set too small for
--auto-precision is one line and exit 2 with no output folder made (they failed after the FP32 export, and after
calibration, minutes on a large model)."""

from __future__ import annotations

from droptrack.data.synth import generate_synth
from helpers import cli, one_line_error


def test_empty_calibration_root_is_refused_before_the_export(tiny_ckpt, tmp_path):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    line = one_line_error(cli("export", tiny_ckpt, "--int8", "--calib", f"synth:{tmp_path / 'empty'}", "--output", out))
    assert line == (f"error: --calib synth:{tmp_path / 'empty'} has no sequences; point it at a dataset root with "
                    "frames, or use --calib synth (the default)")
    assert not out.exists()


def test_too_few_validation_sequences_are_refused_before_the_export(tiny_ckpt, tmp_path):
    val = generate_synth(tmp_path / "val", sequences=2, frames=4, seed=0, size=(96, 64), split="val")
    out = tmp_path / "out"
    line = one_line_error(cli("export", tiny_ckpt, "--int8", "--auto-precision", "--val", val, "--max-divergence",
                              "0.2", "--output", out))
    assert "needs at least" in line and "got 2" in line   # 2 sequences: one lost is 50 %, over a 20 % limit
    assert not out.exists()


def test_validation_folder_without_images_is_refused_before_the_export(tiny_ckpt, tmp_path):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    line = one_line_error(cli("export", tiny_ckpt, "--int8", "--auto-precision", "--val", tmp_path / "empty",
                              "--output", out))
    assert f"no images under {tmp_path / 'empty'}" in line
    assert not out.exists()


def test_corrupt_checkpoint_leaves_no_output_folder(tmp_path):
    broken = tmp_path / "cut.pt"
    broken.write_bytes(b"PK\x03\x04 cut short")   # starts as a checkpoint: only loading it tells it is broken
    out = tmp_path / "out"
    assert f"checkpoint '{broken}' is corrupt" in one_line_error(cli("export", broken, "--output", out))
    assert not out.exists()   # it was made (empty) before the checkpoint was read


def test_output_that_is_a_file_is_refused_before_the_checkpoint_loads(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me\n")
    broken = tmp_path / "cut.pt"
    broken.write_bytes(b"PK\x03\x04 cut short")
    assert "is a file, not a folder" in one_line_error(cli("export", broken, "--output", tmp_path / "notes.txt"))
    assert (tmp_path / "notes.txt").read_text() == "keep me\n"


def test_validation_folder_of_clips_names_what_dt_export_reads_them_by(tiny_ckpt, tmp_path):
    """--val DIR of clips (no frames) said 'read it as a folder of clips: dt eval --dataset video --root DIR, dt bench
    --data video --root DIR', and dt export has no --root: the line now names --val video with DT_DATA_VIDEO, and
    that reads the clips (2 of them here, too few for the default limit, which the next line says)."""
    import cv2
    import numpy as np

    from helpers import runner, text

    from droptrack.cli import app

    root = tmp_path / "my clips"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        writer = cv2.VideoWriter(str(root / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
        for _ in range(4):   # textured: a flat first box is warned about
            writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        writer.release()
        text(root / f"{name}.txt", "10,10,20,20\n" * 4)
    out = tmp_path / "out"
    line = one_line_error(cli("export", tiny_ckpt, "--int8", "--auto-precision", "--val", root, "--output", out))
    assert line == (f"error: no images under {root}, but it holds video files (a.mp4, b.mp4); read it as a folder of "
                    f"clips: --val video, with DT_DATA_VIDEO='{root}' set (dt export takes no --root)")
    assert not out.exists()
    res = runner.invoke(app, ["export", str(tiny_ckpt), "--int8", "--auto-precision", "--val", "video", "--output",
                              str(out)], env={"DT_DATA_VIDEO": str(root)}, prog_name="dt")
    assert "got 2 in --val video" in one_line_error(res)
    assert not out.exists()


def test_export_into_a_dataset_folder_is_refused(tmp_path):
    """dt export --int8 --calib SET -o SET wrote the graphs and parity.json beside the set's list.txt and sequences
    (only a folder of frames was refused), where dt eval and dt bench refuse such an --output."""
    root = generate_synth(tmp_path / "syn", 1, 3, seed=0, size=(96, 64), split="val")
    for out in (root, root / "models"):
        line = one_line_error(cli("export", "-o", out))
        assert f"--output '{out}' is inside the dataset folder" in line and "pass an output folder outside it" in line
    assert not (root / "models").exists() and not (root / "model.onnx").exists()
