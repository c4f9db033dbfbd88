"""`dt run` never replaces an output file that holds data (an earlier run's boxes, JSON lines or video) unless
--overwrite is given; the refusal comes before the model is read or a frame decoded."""

from __future__ import annotations

import os
import stat

import cv2
import pytest
from helpers import cli, one_line_error

from droptrack.artifact import atomic_write
from droptrack.data.media import bundled_video
from droptrack.runtime.sinks import StreamFile, VideoSink

VIDEO = bundled_video("carphone_pristine.mp4")
ARGS = ["--device", "cpu", "--init", "60,40,40,50"]


@pytest.mark.parametrize("option,name", [("--output", "boxes.txt"), ("--jsonl", "frames.jsonl"),
                                         ("--save", "video.mp4")])
def test_an_output_that_holds_data_is_refused_before_the_model_is_read(tmp_path, option, name):
    broken = tmp_path / "broken.pt"   # loading it would be a 'corrupt checkpoint' error: it is never read
    broken.write_bytes(b"not a checkpoint")
    out = tmp_path / name
    out.write_bytes(b"an earlier run's results\n")
    line = one_line_error(cli("run", VIDEO, "-m", broken, *ARGS, option, out))
    assert f"{option} '{out}' already exists" in line and "--overwrite" in line
    assert out.read_bytes() == b"an earlier run's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["broken.pt", name])   # no .part was made


def test_a_second_run_is_refused_and_overwrite_replaces_the_finished_outputs(tiny_ckpt, tmp_path):
    boxes, jsonl = tmp_path / "boxes.txt", tmp_path / "frames.jsonl"
    r = cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 3, "--output", boxes, "--jsonl", jsonl)
    assert r.exit_code == 0, r.output
    first = boxes.read_text()
    assert len(first.splitlines()) == 3 and len(jsonl.read_text().splitlines()) == 3
    line = one_line_error(cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 5, "--output", boxes))
    assert f"--output '{boxes}'" in line and "--overwrite" in line
    assert boxes.read_text() == first
    line = one_line_error(cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 5, "--jsonl", jsonl))
    assert f"--jsonl '{jsonl}'" in line
    r = cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 5, "--output", boxes, "--jsonl", jsonl,
            "--overwrite")
    assert r.exit_code == 0, r.output
    assert len(boxes.read_text().splitlines()) == 5 and len(jsonl.read_text().splitlines()) == 5
    assert boxes.read_text().splitlines()[:3] == first.splitlines()   # same tracker, same first frames


def test_empty_files_and_dev_null_are_not_results_and_dev_null_stays_a_device(tiny_ckpt, tmp_path):
    """--jsonl /dev/null discards; it streamed into /dev/null.part and renamed that onto /dev/null, which as root
    replaced the system's /dev/null with a regular file holding the JSON lines (and the next run found it 'holds
    data')."""
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.skip("/dev/null on this machine is not a character device (broken by an earlier process)")
    empty = tmp_path / "boxes.txt"   # e.g. made by mktemp: nothing in it to lose
    empty.touch()
    for _ in range(2):   # the second run must not find 'data' in /dev/null
        r = cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 2, "--output", empty, "--jsonl", "/dev/null",
                "--overwrite")
        assert r.exit_code == 0, r.output
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and not os.path.lexists("/dev/null.part")
    assert len(empty.read_text().splitlines()) == 2


def test_outputs_in_dev_other_than_dev_null_are_refused_before_anything_is_made(tmp_path):
    """`dt run ... -o /dev/stdout > boxes.txt`: /dev/stdout resolves to a regular file, so the run streamed into
    /dev/stdout.part and renamed it onto /dev/stdout, which as root replaced the system's link with a regular file
    (boxes.txt got nothing); with several targets it made /dev/stdout_0, /dev/stdout_1. The model here is not
    a checkpoint: an accepted path fails on it before any output is made."""
    import subprocess
    import sys

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    redirected = tmp_path / "boxes.txt"
    with open(redirected, "w") as stdout:
        p = subprocess.run([sys.executable, "-m", "droptrack", "run", str(VIDEO), "-m", str(broken), *ARGS,
                            "--output", "/dev/stdout"], stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 2 and "'/dev/stdout' is in /dev" in p.stderr, p.stderr
    assert redirected.read_text() == "" and os.path.islink("/dev/stdout")
    for option, path in (("--output", "/dev/droptrack-test-boxes.txt"), ("--jsonl", "/dev/droptrack-test.jsonl")):
        line = one_line_error(cli("run", VIDEO, "-m", broken, *ARGS, option, path))
        assert f"{option} '{path}' is in /dev" in line, line
        assert not os.path.lexists(path)


def test_jsonl_to_dev_stdout_into_a_pipe_is_named_as_such_with_the_stdout_option(tmp_path):
    """`dt run ... --jsonl /dev/stdout | jq`: /dev/stdout resolves to /proc/self/fd/1 (a pipe), and the refusal said
    "'/dev/stdout' is under /proc, a kernel file system" without naming --jsonl -, the option that writes stdout."""
    import subprocess
    import sys

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    for option in ("--jsonl", "--output"):
        p = subprocess.run([sys.executable, "-m", "droptrack", "run", str(VIDEO), "-m", str(broken), *ARGS, option,
                            "/dev/stdout"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1, p.stderr
        assert f"{option} '/dev/stdout' is not a regular file" in p.stderr and "/proc" not in p.stderr, p.stderr
        assert ("JSON lines to stdout: --jsonl -" in p.stderr) == (option == "--jsonl"), p.stderr
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    line = one_line_error(cli("run", VIDEO, "-m", broken, *ARGS, "--jsonl", fifo))
    assert "is not a regular file" in line and line.endswith("JSON lines to stdout: --jsonl -"), line


def test_an_output_in_dev_through_a_linked_folder_is_refused_before_anything_is_made(tmp_path):
    """`ln -s /dev /tmp/x; dt run ... -o /tmp/x/boxes.txt`: the device folder was judged by the path as written,
    so a file was made in /dev through the link. The model is not a checkpoint: an accepted path fails on it."""
    if not os.path.isdir("/dev"):
        pytest.skip("no /dev here")
    linked = tmp_path / "devlink"
    linked.symlink_to("/dev")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    path = linked / "droptrack-test-linked.txt"
    line = one_line_error(cli("run", VIDEO, "-m", broken, *ARGS, "--output", path))
    assert "is in /dev" in line, line
    assert not os.path.lexists("/dev/droptrack-test-linked.txt")


def _device_node(path) -> None:
    """A character device like /dev/null (1, 3) at `path`: needs root (skips otherwise)."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("making a device node needs root")


def test_sinks_and_atomic_writes_write_a_device_in_place_never_replace_it(tmp_path):
    node = tmp_path / "null"
    _device_node(node)
    sink = StreamFile(node)
    sink.write_line("a line")
    sink.close()
    atomic_write(node, lambda p: p.write_bytes(b"report"))
    video = tmp_path / "null.avi"
    _device_node(video)
    VideoSink(video, 30.0).close()   # never opened: closes without touching it
    for dev in (node, video):
        assert stat.S_ISCHR(os.stat(dev).st_mode) and os.stat(dev).st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null", "null.avi"]   # no .part, no temp file left


def test_overwrite_replaces_a_killed_runs_part_files_but_never_an_input(tiny_ckpt, tmp_path):
    """A killed run leaves NAME.part (boxes, JSON lines) and NAME.part.EXT (video): they were refused even with
    --overwrite, so the fix the user asked for did not work. Without --overwrite they are still refused (the message
    names --overwrite); with it they are replaced like NAME; a .part that is an input is never replaced."""
    boxes, jsonl, video = tmp_path / "boxes.txt", tmp_path / "frames.jsonl", tmp_path / "video.avi"
    parts = {tmp_path / "boxes.txt.part": b"1\t2\t3\t4\n", tmp_path / "frames.jsonl.part": b'{"frame": 0}\n',
             tmp_path / "video.part.avi": b"half a video"}
    for part, data in parts.items():
        part.write_bytes(data)
    named = {"--output": boxes, "--jsonl": jsonl, "--save": video}
    for (option, out), part in zip(named.items(), parts):
        line = one_line_error(cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 3, option, out))
        assert f"'{part}' holds the {option} of a run that was killed" in line and "--overwrite" in line, line
    outputs = [x for pair in named.items() for x in pair]
    assert {p: p.read_bytes() for p in parts} == parts
    model = tmp_path / "model.pt"   # the box file's .part is the model itself (a hard link): never replaced
    model.write_bytes(tiny_ckpt.read_bytes())
    (tmp_path / "boxes.txt.part").unlink()
    (tmp_path / "boxes.txt.part").hardlink_to(model)
    line = one_line_error(cli("run", VIDEO, "-m", model, *ARGS, "--max-frames", 3, *outputs, "--overwrite"))
    assert f"is written as '{tmp_path / 'boxes.txt.part'}' until the run ends, and that is the input" in line, line
    assert model.read_bytes() == tiny_ckpt.read_bytes()
    (tmp_path / "boxes.txt.part").unlink()
    (tmp_path / "boxes.txt.part").write_bytes(parts[tmp_path / "boxes.txt.part"])
    r = cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 3, *outputs, "--overwrite")
    assert r.exit_code == 0, r.output
    assert len(boxes.read_text().splitlines()) == 3 and len(jsonl.read_text().splitlines()) == 3
    assert not any(p.exists() for p in parts)
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()


@pytest.mark.parametrize("option, name, data", [("--output", "boxes.txt", b"\x00\x01RIFF a video\n"),
                                                ("--output", "boxes.txt", b"my notes\nmore\n"),
                                                ("--jsonl", "frames.jsonl", b"not json\nat all\n")])
def test_a_users_file_named_like_a_part_is_not_called_a_killed_run(tiny_ckpt, tmp_path, option, name, data):
    part = tmp_path / f"{name}.part"     # it was 'holds the --output of a run that was killed before it finished'
    part.write_bytes(data)
    line = one_line_error(cli("run", VIDEO, "-m", tiny_ckpt, *ARGS, "--max-frames", 3, option, tmp_path / name))
    assert f"holds something that is not {option} lines of a killed run; move that file away" in line, line
    assert part.read_bytes() == data
