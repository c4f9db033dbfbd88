"""Output names that would collide are refused before any work: dt serve's --jsonl / --save named like a per-target
box file of its --output, and dt run's outputs named as its resume journal; dt serve does not lock the NAME.txt it
never writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from droptrack.errors import InputError
from droptrack.runtime import outlock
from helpers import cli, one_line_error

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.outputs import Outputs  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("given, clash", [
    ({"jsonl": "boxes_5.txt"}, "--jsonl '{d}/boxes_5.txt' is target 5's box file of --output '{d}/boxes.txt'"),
    ({"jsonl": "boxes_0.txt"}, "--jsonl '{d}/boxes_0.txt' is target 0's box file of --output '{d}/boxes.txt'"),
    ({"jsonl": "boxes_12.txt.part"}, "--jsonl '{d}/boxes_12.txt.part' is where target 12's box file of --output "
                                     "'{d}/boxes.txt' is written until it is closed"),
    ({"output": "b.mp4", "save": "b_3.mp4"}, "--save '{d}/b_3.mp4' is target 3's box file of --output '{d}/b.mp4'"),
    ({"output": "b.part", "jsonl": "b_2"}, "--jsonl '{d}/b_2' is written as '{d}/b_2.part' while serving, and that "
                                           "is target 2's box file of --output '{d}/b.part'"),
])
def test_serve_refuses_jsonl_or_save_named_like_a_target_box_file_at_start(video, tiny_ckpt, tmp_path, given, clash):
    """`dt serve --jsonl boxes_5.txt -o boxes.txt` started and answered 409 only when target 5 was drawn (and
    --jsonl boxes_0.txt was called 'another dt run is writing' it): now one line, exit 2, naming both options,
    before the model loads; nothing is written."""
    opts = {"output": "boxes.txt", **given}
    with pytest.raises(InputError) as err:   # the CLI prints it as one 'error: ' line, exit 2
        Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu",
                             **{k: str(tmp_path / v) for k, v in opts.items()}))
    assert str(err.value) == f"{clash.format(d=tmp_path)} (one file per target: " \
                             f"{opts['output'].replace('.', '_<id>.')}); give each output its own path"
    assert not list(tmp_path.iterdir())


def test_dt_serve_names_both_options_in_one_line_exit_2(video, tiny_ckpt, tmp_path):
    """The command line: one 'error: ' line on stderr, exit 2, no server started (a timeout fails, not hangs)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "droptrack", "serve", str(video), "-m", str(tiny_ckpt), "--port", "0",
                        "--jsonl", str(tmp_path / "boxes_5.txt"), "-o", str(tmp_path / "boxes.txt")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 2 and p.stdout == "", (p.stdout, p.stderr)
    assert p.stderr.splitlines() == [f"error: --jsonl '{tmp_path / 'boxes_5.txt'}' is target 5's box file of "
                                     f"--output '{tmp_path / 'boxes.txt'}' (one file per target: boxes_<id>.txt); "
                                     "give each output its own path"]
    assert not list(tmp_path.iterdir())


def test_serve_refuses_an_output_whose_target_files_include_an_input(video, tmp_path):
    """`dt serve clip_2.mp4 -o clip.mp4` (or -o frames/img.png over a folder holding img_1.png) started, and the
    box file of target 2 (1) replaced the input when it closed: now refused before serving, the inputs kept."""
    clip = tmp_path / "clip_2.mp4"
    clip.write_bytes(video.read_bytes())
    frames = tmp_path / "frames"
    frames.mkdir()
    for name in ("img_1.png", "img_2.png"):
        (frames / name).write_bytes(b"frame")
    for source, out, named in ((clip, tmp_path / "clip.mp4", "target 2's boxes over the input '{}'"),
                               (frames, frames / "img.png", "target 1's boxes over the input '{}'")):
        target = clip if source == clip else frames / "img_1.png"
        with pytest.raises(InputError) as err:
            Outputs(ServeOptions(str(source), device="cpu", output=str(out)))
        assert str(err.value) == (f"--output '{out}' would write {named.format(target)} (one file per target: "
                                  f"{out.stem}_<id>{out.suffix}); pass another --output path")
    assert clip.read_bytes() == video.read_bytes() and (frames / "img_1.png").read_bytes() == b"frame"
    Outputs(ServeOptions(str(frames), device="cpu", output=str(tmp_path / "img.png"))).release()   # elsewhere: fine


def test_serve_with_jsonl_and_save_the_same_file_names_the_clash(video, tmp_path):
    """The two locks of one file refused each other first: 'another dt run or dt serve is writing x.avi'."""
    with pytest.raises(InputError, match=r"^--save '.*x\.avi' is the same file as --jsonl; give each output"):
        Outputs(ServeOptions(str(video), device="cpu", jsonl=str(tmp_path / "x.avi"), save=str(tmp_path / "x.avi")))
    assert not list(tmp_path.iterdir())


def test_serve_does_not_lock_the_name_it_never_writes(video, tmp_path):
    """dt serve -o boxes.txt writes boxes_<id>.txt only: a one-target `dt run -o boxes.txt` (boxes.txt and its
    journal) goes on beside it either way round; a several-target dt run (boxes_0.txt, ...) is still refused."""
    boxes = tmp_path / "boxes.txt"
    served = Outputs(ServeOptions(str(video), device="cpu", output=str(boxes)))
    try:
        with outlock.locked([boxes]):   # what a one-target dt run -o boxes.txt holds
            pass
        with pytest.raises(InputError, match="^a dt serve is writing boxes_<id>.txt|^another dt run or dt serve"):
            with outlock.locked([tmp_path / "boxes_0.txt", tmp_path / "boxes_1.txt"]):
                pass
    finally:
        served.release()
    with outlock.locked([boxes]):   # a dt run first, then dt serve onto the same --output
        Outputs(ServeOptions(str(video), device="cpu", output=str(boxes))).release()


@pytest.mark.parametrize("args, label, bad", [
    (["--jsonl", "j", "-o", "j.resume.json"], "--output", "j.resume.json"),
    (["-o", "b.txt", "--jsonl", "b.txt.resume.json"], None, None),        # its journal is b.txt.resume.json.resume.json
    (["-o", "b.txt"], None, None),
    (["--jsonl", "j", "-o", "j.resume.3.npz"], "--output", "j.resume.3.npz"),   # a refreshed template's file
])
def test_run_refuses_an_output_named_as_its_resume_journal(video, tiny_ckpt, tmp_path, args, label, bad):
    """`dt run --jsonl j -o j.resume.json` ran, printed 'boxes: j.resume.json' and left no such file (the journal
    there is deleted when the run ends): now refused in one line before any work, an earlier file kept."""
    args = [a if a.startswith("-") else tmp_path / a for a in args]
    if bad:
        (tmp_path / bad).write_text("kept\n")
    r = cli("run", video, "-m", tiny_ckpt, "--device", "cpu", "--init", "60,20,50,60", "--max-frames", "2",
            "--overwrite", *args)
    if label is None:
        assert r.exit_code == 0, r.output
        assert (tmp_path / "b.txt").read_text().count("\n") == 2
        return
    assert one_line_error(r) == (f"error: {label} '{tmp_path / bad}' is where this run keeps its resume journal "
                                 f"(j.resume.json beside the first --jsonl/--output file, deleted when the run ends); "
                                 "pass another output path")
    assert (tmp_path / bad).read_text() == "kept\n" and sorted(p.name for p in tmp_path.iterdir()) == [bad]
