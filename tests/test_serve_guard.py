"""dt serve's outputs against other writers and a full disk: the output lock dt run takes (a second dt serve, or a
dt serve and a dt run, onto the same files is refused in one line before serving), and a disk that fills up while
serving (one line in the log when it happens, the page's state and its commands say it, whole lines kept)."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from droptrack.errors import InputError
from droptrack.runtime import outlock
from droptrack.runtime.sinks import box_paths

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
pytest.importorskip("httpx", reason="the API tests use Starlette's TestClient (httpx)")
from fastapi.testclient import TestClient  # noqa: E402

from droptrack.serve.app import create_app  # noqa: E402
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402
from disk_limits import tmpfs  # noqa: E402
from exec_with import exec_with  # noqa: E402
from helpers import cli, reaped  # noqa: E402
from serve_helpers import FACE, one_line_exit_2, outputs_over, SECOND, wait_for  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, video, one_thread: conftest.py
BUSY = "another dt run or dt serve is writing"
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}


def test_a_second_server_or_a_run_onto_the_files_being_served_is_refused(video, tiny_ckpt, tmp_path):
    """Two dt serve (or a dt serve and a dt run) onto the same --jsonl / --output files interleaved their lines;
    a second one was only refused for the first one's NAME.part as 'a killed run's', and with --overwrite not at
    all. Now it is one line naming the file another process is writing, exit 2, before serving; the first one's
    files are untouched."""
    jsonl, boxes = tmp_path / "serve.jsonl", tmp_path / "boxes.txt"
    first = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", pace=True, jsonl=str(jsonl),
                                 output=str(boxes)))
    first.start()
    try:
        client = TestClient(create_app(first), base_url="http://127.0.0.1")
        assert client.post("/targets", json=dict(zip("xywh", FACE))).status_code == 201
        wait_for(lambda: first.frames_written >= 3)
        assert client.post("/pause").json() == {"state": "paused"}   # serving, its files open and holding lines
        served = {p: p.read_bytes() for p in (part(jsonl), part(box_paths(boxes, 2)[0]))}
        assert all(served.values())
        first_box = box_paths(boxes, 2)[0]   # boxes_0.txt: dt serve never writes boxes.txt itself
        for given, named in (({"jsonl": str(jsonl)}, jsonl), ({"output": str(boxes)}, first_box)):   # even --overwrite
            with pytest.raises(InputError, match=f"^{BUSY} {re.escape(str(named))};"):
                Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", overwrite=True, **given))
        p = subprocess.run([sys.executable, "-m", "droptrack", "serve", str(video), "-m", str(tiny_ckpt), "--port", "0",
                            "--jsonl", str(jsonl)], capture_output=True, text=True, timeout=120, env=ENV)
        assert p.returncode == 2 and p.stderr.splitlines() == [f"error: {BUSY} {jsonl}; wait for it to finish (or "
                                                              "stop it), or pass other output paths"], p.stderr
        # dt run onto them: several targets write boxes_0.txt, ... (dt serve's first target's file)
        run = ["run", video, "-m", tiny_ckpt, "--device", "cpu", "--overwrite", "--init", "60,20,50,60"]
        one_line_exit_2(cli(*run, "--init", "10,70,40,40", "-o", boxes), BUSY, str(box_paths(boxes, 2)[0]))
        one_line_exit_2(cli(*run, "--jsonl", jsonl), BUSY, str(jsonl))
        assert {p: p.read_bytes() for p in served} == served
    finally:
        first.stop()
    assert not list(tmp_path.glob(".*.lock"))   # released with the outputs
    assert len(jsonl.read_text().splitlines()) == first.frames_written


def part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


@pytest.mark.parametrize("held", [["boxes_0.txt", "boxes_1.txt"], ["boxes_0.txt"], ["frames.jsonl"], ["video.avi"]])
def test_dt_serve_onto_the_files_a_dt_run_writes_is_refused(video, tiny_ckpt, tmp_path, held):
    """dt run locks its outputs (boxes.txt for one target, boxes_0.txt ... for several, --jsonl, --save): dt serve
    onto them is refused naming the file, before the model loads, and nothing of the run's is changed."""
    with outlock.locked([tmp_path / name for name in held]):   # as a dt run writing these files holds them
        with pytest.raises(InputError, match=f"^{BUSY} {re.escape(str(tmp_path / held[0]))};"):
            Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", output=str(tmp_path / "boxes.txt"),
                                 jsonl=str(tmp_path / "frames.jsonl"), save=str(tmp_path / "video.avi")))
        family = [".boxes_<id>.txt.lock"] if held[0].startswith("boxes_") else []   # held shared by such a run
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f".{name}.lock" for name in held] + family)


def test_a_refused_server_leaves_no_output_folder(video, tiny_ckpt, tmp_path):
    """The lock files go beside the outputs; a folder that is not there yet is made only once the checks pass."""
    with pytest.raises(InputError, match="--max-targets 0"):
        Session(ServeOptions(str(video), artifact=str(tiny_ckpt), output=str(tmp_path / "new" / "boxes.txt"),
                             max_targets=0))
    assert not (tmp_path / "new").exists() and not list(tmp_path.iterdir())


# ---------------------------------------------------------------- a disk that fills up while serving

@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 KiB tmpfs (needs root and a mount-capable container; skipped elsewhere)."""
    with tmpfs(tmp_path / "mnt", "64k") as mnt:
        yield mnt


def serve_until_full(video: Path, ckpt: Path, out: Path, limit: int | None, save: bool,
                     extra: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """dt serve with --jsonl, --output (and --save, `extra`) in `out` (under a file-size `limit`): draw a target, wait for
    the log's 'tracking stopped' line while the server still runs, check the page's state and a new target's
    answer, then SIGTERM; returns (exit code, stdout, stderr)."""
    cmd = [sys.executable, "-m", "droptrack", "serve", str(video), "-m", str(ckpt), "--device", "cpu", "--port", "0",
           "--no-pace", "-o", str(out / "boxes.txt"), "--jsonl", str(out / "f.jsonl"),
           *(["--save", str(out / "v.avi")] if save else []), *extra]
    p = subprocess.Popen(exec_with(cmd, file_size=limit) if limit else cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV, text=True)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(p.stderr), daemon=True)
    reader.start()
    with reaped(p):
        url = None
        while url is None:   # 'serving http://127.0.0.1:PORT/  (...)'
            line = p.stdout.readline()
            assert line, "dt serve ended before serving: " + "".join(err)
            m = re.match(r"serving (http://\S+)", line)
            url = m.group(1) if m else None
        assert post(url, FACE)[0] == 201
        end = time.monotonic() + 120
        while not any(ln.startswith("tracking stopped: ") for ln in err):   # logged when it happens
            assert time.monotonic() < end and p.poll() is None, "".join(err)
            time.sleep(0.05)
        assert p.poll() is None   # the page stays up and says why
        with urllib.request.urlopen(url + "stats", timeout=30) as r:
            stats = json.load(r)
        assert stats["state"] == "ended" and stats["error"].startswith("no room left writing '"), stats
        status, body = post(url, SECOND)
        assert status == 409 and body["detail"].startswith("tracking stopped: no room left writing"), body
        p.send_signal(signal.SIGTERM)
        out_text, _ = p.communicate(timeout=60)
        reader.join(10)
    return p.returncode, out_text, "".join(err)


def post(url: str, box: list[float]) -> tuple[int, dict]:
    req = urllib.request.Request(url + "targets", data=json.dumps(dict(zip("xywh", box))).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def check_line_files(out: Path, frames: int) -> None:
    """--jsonl and the box file hold the same `frames` whole lines, frames 0.. in order, under their final names."""
    records = [json.loads(ln) for ln in (out / "f.jsonl").read_text().splitlines()]   # every line whole
    assert [r["frame"] for r in records] == list(range(frames))
    boxes = (out / "boxes_0.txt").read_text().splitlines()
    assert len(boxes) == frames and all(len(b.split("\t")) == 4 for b in boxes)
    assert not list(out.glob("*.txt.part")) and not list(out.glob("*.jsonl.part"))


def test_a_size_limit_while_serving_stops_tracking_with_one_line_and_keeps_whole_lines(video, tiny_ckpt, tmp_path):
    """A full disk while serving was written to the page's state only: the log (journald) said nothing until the
    server was stopped, and a new target was answered 'the source ended'. Now the log has the one line when it
    happens, the server stays up, a new target is refused naming the full disk, SIGTERM still ends it cleanly, with
    exit 2 as dt run after a full disk (it was 0, as if every frame had been written)."""
    code, out, err = serve_until_full(video, tiny_ckpt, tmp_path, 3000, save=False)
    assert code == 2 and "Traceback" not in err, err
    full = [ln for ln in err.splitlines() if "no room left" in ln]
    assert len(full) == 1 and full[0].startswith(f"tracking stopped: no room left writing '{tmp_path / 'f.jsonl'}")
    kept = int(re.search(r"keeps the (\d+) whole lines", full[0]).group(1))
    assert (tmp_path / "f.jsonl").stat().st_size <= 3000 and 0 < kept < 120   # the clip has 120 frames
    check_line_files(tmp_path, kept)


@pytest.mark.parametrize("earlier", [("f.jsonl", "boxes_0.txt"), ("boxes_0.txt",)])
def test_a_full_disk_never_replaces_an_earlier_sessions_results(video, tiny_ckpt, tmp_path, earlier):
    """dt serve --overwrite over an earlier session's complete f.jsonl and boxes_0.txt: a full disk renamed the new
    session's cut lines onto them, and the earlier results were lost, unasked (dt run keeps them since 93f0cff). Now,
    as dt run, every output stays NAME.part when any would replace an earlier result (also one whose own write found
    room: the files stay one session's), the earlier files are kept byte for byte, and the line and stdout name both."""
    old = {"f.jsonl": "".join(json.dumps({"frame": i, "ids": [0]}) + "\n" for i in range(200)),
           "boxes_0.txt": "1\t2\t3\t4\n" * 200}
    for name in earlier:
        (tmp_path / name).write_text(old[name])
    code, out, err = serve_until_full(video, tiny_ckpt, tmp_path, 3000, save=False, extra=("--overwrite",))
    assert code == 2 and "Traceback" not in err, err
    for name in earlier:
        assert (tmp_path / name).read_text() == old[name]
    assert all(not (tmp_path / name).exists() for name in {"f.jsonl", "boxes_0.txt"} - set(earlier))
    full = [ln for ln in err.splitlines() if "no room left" in ln]
    jsonl, boxes = tmp_path / "f.jsonl.part", tmp_path / "boxes_0.txt.part"
    assert len(full) == 1 and full[0].startswith(f"tracking stopped: no room left writing '{jsonl}'"), err
    kept = int(re.search(r"keeps the (\d+) whole lines", full[0]).group(1))
    assert f"{jsonl} keeps the {kept} whole lines" in full[0]
    assert full[0].endswith(f"the new run's unfinished outputs stay in {jsonl}, {boxes} (the earlier "
                            f"{', '.join(str(tmp_path / n) for n in earlier)} kept as "
                            f"{'they were' if len(earlier) > 1 else 'it was'})"), full[0]
    assert f"jsonl: {jsonl} (unfinished: no room left)" in out and f"boxes: {boxes} (unfinished: no room left)" in out
    records = [json.loads(ln) for ln in jsonl.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(kept)) and 0 < kept < 120
    assert len(boxes.read_text().splitlines()) == kept


@pytest.mark.parametrize("where", ["size limit", "full tmpfs"])
def test_a_video_that_finds_no_room_is_named_unfinished(video, tiny_ckpt, tmp_path, where, request):
    """OpenCV only logs the video writes that fail: under a file-size limit (ulimit -f, EFBIG) the cut video was
    moved into place as NAME and printed as the result, with nothing said; on a full disk the last line said
    'video: NAME', a file that is not there. Now both stop tracking with the one line, leave NAME.part.EXT and
    name it as unfinished; the line files agree on their frames (the video is written last)."""
    out = request.getfixturevalue("small_tmpfs") if where == "full tmpfs" else tmp_path
    code, stdout, err = serve_until_full(video, tiny_ckpt, out, 60000 if where == "size limit" else None, save=True)
    assert code == 2 and "Traceback" not in err, err
    why = "(File too large)" if where == "size limit" else "(No space left on device)"
    full = [ln for ln in err.splitlines() if "no room left" in ln]
    assert len(full) == 1 and full[0].startswith(f"tracking stopped: no room left writing '{out / 'v.part.avi'}' {why}")
    assert f"video: {out / 'v.part.avi'} (unfinished: no room left)" in stdout
    assert not (out / "v.avi").exists() and (out / "v.part.avi").stat().st_size > 0
    frames = len((out / "f.jsonl").read_text().splitlines())
    assert 0 < frames < 120
    check_line_files(out, frames)


def test_a_limit_reached_while_paused_is_the_one_line_and_exit_2_at_any_stop(video, tiny_ckpt, tmp_path):
    """A paused server writes the frame it holds when it stops: an output that found no room then raised out of
    the tracking thread (a traceback, no 'tracking stopped' line) and Ctrl-C said 'outputs are complete up to
    there', exit 130. Now it is the one line, the line files keep the same whole frames, and the exit code is 2.
    (The file-size limit is lowered on the running server, to the size its --jsonl has: as a disk that fills up.)"""
    cmd = [sys.executable, "-m", "droptrack", "serve", str(video), "-m", str(tiny_ckpt), "--device", "cpu", "--port",
           "0", "-o", str(tmp_path / "boxes.txt"), "--jsonl", str(tmp_path / "f.jsonl")]
    p = subprocess.Popen(exec_with(cmd, file_size=resource.RLIM_INFINITY), stdout=subprocess.PIPE,   # SIGXFSZ ignored
                         stderr=subprocess.PIPE, env=ENV, text=True)
    with reaped(p):
        url = None
        while url is None:   # 'serving http://127.0.0.1:PORT/  (...)'
            line = p.stdout.readline()
            assert line, "dt serve ended before serving"
            m = re.match(r"serving (http://\S+)", line)
            url = m.group(1) if m else None
        assert post(url, FACE)[0] == 201
        wait_for(lambda: (tmp_path / "f.jsonl.part").read_bytes().count(b"\n") >= 3, 120)
        with urllib.request.urlopen(urllib.request.Request(url + "pause", method="POST"), timeout=30) as r:
            assert json.load(r) == {"state": "paused"}
        size = (tmp_path / "f.jsonl.part").stat().st_size
        resource.prlimit(p.pid, resource.RLIMIT_FSIZE, (size, size))   # its next --jsonl line finds no room
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "Traceback" not in err and "SIGINT" not in err, err
    full = [ln for ln in err.splitlines() if "no room left" in ln]
    assert len(full) == 1 and full[0].startswith(f"tracking stopped: no room left writing '{tmp_path / 'f.jsonl.part'}'")
    assert (tmp_path / "f.jsonl").stat().st_size == size
    check_line_files(tmp_path, len((tmp_path / "f.jsonl").read_text().splitlines()))


def test_signals_while_dt_serve_closes_its_outputs_let_them_close(video, tiny_ckpt, tmp_path, capsys):
    """After the server stopped, dt serve closed its outputs with the default handlers back: one more Ctrl-C there
    raised KeyboardInterrupt out of the closing, a SIGTERM killed the process, leaving boxes_0.txt.part, f.jsonl.part
    and a video without its index. While they close, a signal is now only acknowledged (as dt run does)."""
    from droptrack.serve.stops import StopSignals

    session = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", pace=False, max_frames=12,
                                   jsonl=str(tmp_path / "f.jsonl"), output=str(tmp_path / "boxes.txt"),
                                   save=str(tmp_path / "v.avi")))
    session.start()
    session.add_target(FACE)
    wait_for(lambda: session.frames_written >= 11)
    hup = signal.getsignal(signal.SIGHUP) != signal.SIG_IGN   # else (nohup) it stays ignored, as in dt serve
    with StopSignals() as stop:
        stop.closing()   # as serve() once the server has stopped
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            os.kill(os.getpid(), sig)
        time.sleep(0.1)
        session.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes_0.txt", "f.jsonl", "v.avi"]
    assert len((tmp_path / "boxes_0.txt").read_text().splitlines()) == 12
    assert len((tmp_path / "f.jsonl").read_text().splitlines()) == 12
    assert capsys.readouterr().err.count("closing the outputs, a moment") == 2 + hup


def test_a_disk_found_full_only_at_close_keeps_the_earlier_sessions_files(video, tiny_ckpt, tmp_path):
    """A file system that says it is full only when a file is synced at close (NFS, delayed allocation): the first
    output's close failed, and the outputs closed after it still renamed their lines onto an earlier session's
    complete files (--overwrite). Now those after it stay NAME.part and the earlier files are kept as they were.
    (The failing close is a stand-in sink first in line: such a file system cannot be made here.)"""
    from droptrack.errors import OutputFull
    from droptrack.runtime.sinks import Sink

    class FullAtClose(Sink):
        def close(self) -> None:
            raise OutputFull(f"no room left writing '{tmp_path / 'other.part'}' (No space left on device)")

    old = {"f.jsonl": '{"frame": 0}\n' * 5, "boxes_0.txt": "1\t2\t3\t4\n" * 5}
    with outputs_over(old, video, tiny_ckpt, tmp_path) as outputs:
        outputs.sinks.insert(0, FullAtClose())
        errors = outputs.close()
    assert [type(e) for e in errors] == [OutputFull]
    assert {name: (tmp_path / name).read_text() for name in old} == old
    assert (tmp_path / "f.jsonl.part").read_text() == '{"frame": 0, "new": true}\n'
    assert (tmp_path / "boxes_0.txt.part").read_text() == "5\t6\t7\t8\n"
    assert outputs.unfinished_note().endswith(f"(the earlier {tmp_path / 'f.jsonl'}, {tmp_path / 'boxes_0.txt'} "
                                              "kept as they were)")
