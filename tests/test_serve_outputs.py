"""dt serve's outputs and its end: box files, outputs checked before work, --overwrite, Ctrl-C, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import pytest
from exec_with import exec_with

from droptrack.errors import InputError

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
pytest.importorskip("httpx", reason="the API tests use Starlette's TestClient (httpx)")
from fastapi.testclient import TestClient  # noqa: E402

from droptrack.serve.app import create_app  # noqa: E402
from droptrack.serve.server import serve  # noqa: E402
from droptrack.serve.options import ServeOptions, SourceTimeout  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402
from serve_helpers import FACE, SECOND, one_line_exit_2, serve_cli, session  # noqa: E402,F401 (session: a fixture)
from serve_helpers import wait_for  # noqa: E402
from helpers import reaped  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, video, one_thread: conftest.py


def test_a_box_file_that_cannot_be_written_refuses_the_target(session, tmp_path):
    """--output: a new target's box file that cannot be opened (here its .part path is a folder; a folder whose
    permissions changed alike) was a 500, and the target was tracked anyway without its file. Now the file is
    opened first: 507 with a one-line message, no target; once fixed, the same box starts the target."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    assert client.post("/pause").json() == {"state": "paused"}   # its 30 frames could end before the last request
    assert client.post("/targets", json=dict(zip("xywh", FACE))).status_code == 201
    (tmp_path / "boxes_1.txt.part").mkdir()
    r = client.post("/targets", json=dict(zip("xywh", SECOND)))
    assert r.status_code == 507 and "cannot write the box file" in r.json()["detail"] and "boxes_1.txt" in r.text
    assert [t["id"] for t in client.get("/targets").json()] == [0]
    (tmp_path / "boxes_1.txt.part").rmdir()
    assert client.post("/targets", json=dict(zip("xywh", SECOND))).json()["id"] == 1


def test_a_killed_servers_box_files_of_any_target_are_never_truncated(session, video, tiny_ckpt, tmp_path):
    """After a killed dt serve, boxes_<id>.txt.part holds each target's boxes; only target 0's was checked, and
    drawing a second target truncated boxes_1.txt.part silently. Now every such .part with boxes in it is refused
    before serving, as dt run refuses its own (one line naming the file and the fix), and a .part that appears
    while serving refuses the target (409) instead of being truncated; both files keep their boxes."""
    old = tmp_path / "old"
    old.mkdir()
    kept = {old / "boxes_3.txt.part": "1\t2\t3\t4\n5\t6\t7\t8\n", old / "boxes_1.txt.part": ""}   # empty: no boxes
    for path, text in kept.items():
        path.write_text(text)
    (old / "boxes_x.txt.part").write_text("1\t2\t3\t4\n")            # not a target's file: not ours to judge
    with pytest.raises(InputError, match=re.escape(f"'{old / 'boxes_3.txt.part'}' holds the --output of a run that "
                                                   "was killed before it finished; rename it")):
        Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", output=str(old / "boxes.txt")))
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    assert client.post("/pause").json() == {"state": "paused"}   # its 30 frames could end before the next request
    assert client.post("/targets", json=dict(zip("xywh", FACE))).json()["id"] == 0
    other = tmp_path / "boxes_1.txt.part"
    other.write_text("9\t9\t9\t9\n")
    r = client.post("/targets", json=dict(zip("xywh", SECOND)))
    assert r.status_code == 409 and f"'{other}' holds the boxes of another run" in r.json()["detail"], r.text
    assert {p: p.read_text() for p in kept} == kept and other.read_text() == "9\t9\t9\t9\n"
    assert [t["id"] for t in client.get("/targets").json()] == [0]


def test_overwrite_replaces_a_killed_servers_part_files_but_never_an_input(video, tiny_ckpt, tmp_path):
    """A killed dt serve's boxes_<id>.txt.part, NAME.jsonl.part and NAME.part.EXT were refused even with --overwrite.
    Now --overwrite replaces them (a box file's when its target id is drawn again), a .part that appears while
    serving still refuses its target (409), and one that is an input is never replaced; without --overwrite the
    refusal names it as the fix."""
    boxes, jsonl, save = tmp_path / "boxes.txt", tmp_path / "serve.jsonl", tmp_path / "video.avi"
    parts = {tmp_path / "boxes_0.txt.part": "1\t2\t3\t4\n", tmp_path / "boxes_2.txt.part": "5\t6\t7\t8\n",
             tmp_path / "serve.jsonl.part": '{"frame": 0}\n', tmp_path / "video.part.avi": "half a video"}
    for part, text in parts.items():
        part.write_text(text)
    kw = dict(artifact=str(tiny_ckpt), device="cpu", pace=False, max_frames=5, output=str(boxes), jsonl=str(jsonl),
              save=str(save))
    with pytest.raises(InputError, match=re.escape(f"'{tmp_path / 'boxes_0.txt.part'}' holds the --output of a run "
                                                   "that was killed before it finished") + ".*--overwrite"):
        Session(ServeOptions(str(video), **kw))
    one_line_exit_2(serve_cli(video, "--port", 0, "-m", tiny_ckpt, "--jsonl", jsonl), "serve.jsonl.part",
                    "--overwrite")
    model = tmp_path / "model.pt"   # target 2's .part is the model itself (a hard link): refused with --overwrite
    shutil.copy(tiny_ckpt, model)
    (tmp_path / "boxes_2.txt.part").unlink()
    (tmp_path / "boxes_2.txt.part").hardlink_to(model)
    with pytest.raises(InputError, match="boxes_2.txt.part' until the run ends, and that is the input"):
        Session(ServeOptions(str(video), **{**kw, "artifact": str(model)}, overwrite=True))
    assert model.read_bytes() == tiny_ckpt.read_bytes()
    (tmp_path / "boxes_2.txt.part").unlink()
    (tmp_path / "boxes_2.txt.part").write_text(parts[tmp_path / "boxes_2.txt.part"])
    s = Session(ServeOptions(str(video), **kw, overwrite=True))
    s.start()
    try:
        client = TestClient(create_app(s), base_url="http://127.0.0.1")
        (tmp_path / "boxes_1.txt.part").write_text("9\t9\t9\t9\n")   # another run's, since serving began
        assert client.post("/pause").json() == {"state": "paused"}   # held on frame 0 while both are drawn: the
        assert client.post("/targets", json=dict(zip("xywh", FACE))).json()["id"] == 0   # 5 frames could all be
        r = client.post("/targets", json=dict(zip("xywh", SECOND)))   # tracked before the second came ('ended')
        assert r.status_code == 409 and "boxes_1.txt.part' holds the boxes of another run" in r.text, r.text
        assert client.post("/resume").json() == {"state": "running"}
        end = time.monotonic() + 60
        while client.get("/stats").json()["state"] != "ended":
            assert time.monotonic() < end, "timed out"
            time.sleep(0.02)
    finally:
        s.stop()
    assert (tmp_path / "boxes_0.txt").read_text().splitlines()[0] == "60\t20\t50\t60"
    assert len((tmp_path / "boxes_0.txt").read_text().splitlines()) == 5
    assert [json.loads(line)["frame"] for line in jsonl.read_text().splitlines()] == list(range(5))
    cap = cv2.VideoCapture(str(save))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()
    assert not (tmp_path / "boxes_0.txt.part").exists() and not (tmp_path / "video.part.avi").exists()
    assert (tmp_path / "boxes_1.txt.part").read_text() == "9\t9\t9\t9\n"   # not ours: kept
    assert (tmp_path / "boxes_2.txt.part").read_text() == "5\t6\t7\t8\n"   # id 2 never drawn: kept


def test_ctrl_c_before_the_server_runs_is_an_interruption(tiny_ckpt, video, tmp_path):
    """Ctrl-C while the model loads or the source opens: serve() swallowed it and returned as after a normal end
    (dt serve then exited 0 without a word, or with an AttributeError traceback when the model was still loading);
    now it goes on up (the CLI prints 'interrupted', exit 130), the tracking thread is stopped and the port freed."""
    def ctrl_c(line: str) -> None:   # pressed while the first line is printed, before uvicorn runs
        raise KeyboardInterrupt

    opts = ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", jsonl=str(tmp_path / "x.jsonl"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(KeyboardInterrupt):
        serve(opts, port=port, echo=ctrl_c)
    assert not any(t.name == "dt-serve-tracking" for t in threading.enumerate())
    # the outputs closed, as at any stop (a stop before the thread started: the next test)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jsonl"]
    assert [json.loads(ln)["frame"] for ln in (tmp_path / "x.jsonl").read_text().splitlines()] == [0]
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_a_stop_while_the_source_hangs_closes_the_outputs(tiny_ckpt, video, tmp_path):
    """A live stream that stops delivering (a camera unplugged mid-stream: no end, no error) held the tracking
    thread in its read, where it never saw the stop: Ctrl-C waited 10 s and left every output unfinished (NAME.part,
    which the next start refuses), though it said 'outputs are complete'. stop() now closes them itself, with the
    held frame's record; the thread, once the source answers again, writes nothing more."""
    jsonl, boxes = tmp_path / "live.jsonl", tmp_path / "boxes.txt"
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", pace=False, jsonl=str(jsonl),
                             output=str(boxes)))
    s.start()
    frames, hung, gate = s._frames, threading.Event(), threading.Event()

    def stream():   # three more frames, then nothing until the gate opens (after the stop)
        for _ in range(3):
            yield next(frames)
        hung.set()
        gate.wait()
        yield from frames

    s._frames = stream()   # the file waits on its first frame for a target: the thread is not reading yet
    try:
        assert TestClient(create_app(s), base_url="http://127.0.0.1").post(
            "/targets", json=dict(zip("xywh", FACE))).status_code == 201
        assert hung.wait(60)
        s.stop()
        lines = {f: f.read_text() for f in (jsonl, tmp_path / "boxes_0.txt")}
        assert [json.loads(x)["frame"] for x in lines[jsonl].splitlines()] == [0, 1, 2, 3]
        assert len(lines[tmp_path / "boxes_0.txt"].splitlines()) == 4 and s.frames_written == 4
        assert not list(tmp_path.glob("*.part")) and s.stats()["state"] == "ended"
    finally:
        gate.set()
    s._thread.join(30)
    assert not s._thread.is_alive() and {f: f.read_text() for f in lines} == lines


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGHUP, 129), (signal.SIGTERM, 0)])
def test_a_signal_stops_the_server_cleanly_with_dt_runs_exit_code(tiny_ckpt, video, tmp_path, signum, code):
    """Ctrl-C shut dt serve down cleanly but it exited 0, as after a normal end, while dt run exits 130 (scripts
    could not tell them apart); SIGHUP (a closed terminal) killed it with the outputs left as .part files. Now both
    shut it down cleanly, one line on stderr, exit 128 + the signal as dt run; SIGTERM (systemd) stays a clean
    exit 0. The box file, JSON lines and video are finalized and hold the same frames."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    boxes, jsonl, save = tmp_path / "boxes.txt", tmp_path / "frames.jsonl", tmp_path / "video.avi"
    # the signal at its default action in the server, as a terminal starts it: under `nohup` (or a script's `&` job)
    # the pytest run passes SIGHUP (SIGINT) on ignored, and dt serve keeps an inherited ignored SIGHUP so (nohup's ask)
    cmd = [sys.executable, "-m", "droptrack", "serve", str(video), "-m", str(tiny_ckpt), "--device", "cpu", "--port",
           "0", "--output", str(boxes), "--jsonl", str(jsonl), "--save", str(save)]
    p = subprocess.Popen(exec_with(cmd, default_signals=(signal.Signals(signum).name[3:],)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    with reaped(p):
        url = None
        while url is None:   # 'serving http://127.0.0.1:PORT/  (...)'
            line = p.stdout.readline().decode()
            assert line, "dt serve ended before serving: " + p.stderr.read().decode()
            m = re.match(r"serving (http://\S+)", line)
            url = m.group(1) if m else None
        req = urllib.request.Request(url + "targets", data=json.dumps(dict(zip("xywh", FACE))).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 201
        part = tmp_path / "frames.jsonl.part"
        end = time.monotonic() + 120
        while not (part.exists() and part.read_bytes().count(b"\n") >= 3):   # tracking, outputs open
            assert time.monotonic() < end and p.poll() is None, "no frames tracked"
            time.sleep(0.05)
        p.send_signal(signum)
        out, err = p.communicate(timeout=60)
    err = err.decode()
    name = signal.Signals(signum).name
    assert p.returncode == code, err
    assert "Traceback" not in err
    if code:
        assert err.strip().splitlines()[-1].startswith(f"{name}: stopped after "), err
        n = int(re.search(r"stopped after (\d+) frames?; outputs are complete up to there", err).group(1))
    else:   # no line: the frame count is the video's
        assert "stopped" not in err, err
        n = len(jsonl.read_text().splitlines())
    assert f"boxes: {tmp_path / 'boxes_0.txt'}" in out.decode()
    assert len((tmp_path / "boxes_0.txt").read_text().splitlines()) == n >= 3
    assert [json.loads(x)["frame"] for x in jsonl.read_text().splitlines()] == list(range(n))
    cap = cv2.VideoCapture(str(save))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n
    cap.release()
    assert not list(tmp_path.glob("*.part*"))


def test_cli_bad_input_one_line_exit_2(video, tiny_ckpt, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        one_line_exit_2(serve_cli(video, "--port", port), f"port {port}", "in use", "--port")
    one_line_exit_2(serve_cli(video, "--host", "0.0.0.0"), "--token")
    one_line_exit_2(serve_cli(video, "--token", "short"), "8 characters")
    one_line_exit_2(serve_cli(tmp_path / "nope.mp4", "--port", 0), "not found")
    one_line_exit_2(serve_cli(video, "--port", 0, "--max-targets", 0), "--max-targets")
    one_line_exit_2(serve_cli(video, "--port", 0, "--save", tmp_path / "x.gif"), "--save")
    one_line_exit_2(serve_cli(video, "--port", 0, "-m", tiny_ckpt, "--jsonl", "/proc/no/such.jsonl"), "--jsonl")
    one_line_exit_2(serve_cli(video, "--port", 0, "-m", tiny_ckpt, "--crop-grid", "0.5"), "--crop-grid")


def test_outputs_that_are_inputs_or_folders_are_refused_before_work(video, tiny_ckpt, tmp_path):
    """--save over the source video or --jsonl over the model destroyed them (as dt run refuses): one line, exit 2,
    both files untouched; a folder as --jsonl is refused up front, not when the outputs close, and a folder as
    --output (it wrote FOLDER_<id> files beside it)."""
    src, model = tmp_path / "clip.mp4", tmp_path / "model.pt"
    shutil.copy(video, src)
    shutil.copy(tiny_ckpt, model)
    before = {p: p.read_bytes() for p in (src, model)}
    for kw, words in (({"save": src}, "--save .* is the input"), ({"jsonl": model}, "--jsonl .* is the input"),
                      ({"jsonl": tmp_path}, "--jsonl .* is a folder"),
                      ({"output": tmp_path}, "--output .* is a folder"),
                      ({"output": f"{tmp_path}/new/"}, "--output .* is a folder")):  # checked before the model loads
        with pytest.raises(InputError, match=words):
            Session(ServeOptions(str(src), artifact=str(model), device="cpu", **{k: str(v) for k, v in kw.items()}))
    one_line_exit_2(serve_cli(src, "--port", 0, "-m", model, "--save", src), "--save", "is the input")
    assert {p: p.read_bytes() for p in (src, model)} == before


def test_an_earlier_runs_outputs_are_refused_before_the_model_loads_unless_overwrite(video, tiny_ckpt, tmp_path):
    """A second dt serve with the same --output / --jsonl / --save replaced the first one's finished files (its
    targets are numbered from 0 again); as in dt run they are refused now, before the model is read, unless
    --overwrite; an empty file or another stem's files are no results of this --output."""
    broken = tmp_path / "broken.pt"   # never read: a load would be a 'corrupt checkpoint' error
    broken.write_bytes(b"not a checkpoint")
    (tmp_path / "boxes_2.txt").write_text("1\t2\t3\t4\n")
    (tmp_path / "boxes_0.txt").touch()
    (tmp_path / "boxes_old.txt").write_text("5\t6\t7\t8\n")
    (tmp_path / "frames.jsonl").write_text('{"frame": 0}\n')
    for kw, path in (({"output": "boxes.txt"}, "boxes_2.txt"), ({"jsonl": "frames.jsonl"}, "frames.jsonl")):
        kw = {k: str(tmp_path / v) for k, v in kw.items()}
        opts = ServeOptions(str(video), artifact=str(broken), device="cpu", **kw)
        with pytest.raises(InputError, match=re.escape(f"'{tmp_path / path}' already exists and holds data") + ".*"
                           "--overwrite"):
            Session(opts)
    one_line_exit_2(serve_cli(video, "--port", 0, "-m", broken, "--output", tmp_path / "boxes.txt"), "--output",
                    "--overwrite")
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", output=str(tmp_path / "boxes.txt"),
                             jsonl=str(tmp_path / "frames.jsonl"), overwrite=True))
    s.stop()
    assert (tmp_path / "boxes_2.txt").read_text() == "1\t2\t3\t4\n"   # replaced only when its target is drawn


@pytest.mark.parametrize("option, value", [("--connect-timeout", "inf"), ("--connect-timeout", "nan"),
                                           ("--fps", "0"), ("--width", "0"), ("--lost-threshold", "nan")])
def test_numbers_dt_run_refuses_are_refused(video, tiny_ckpt, option, value):
    """dt run's range checks apply to dt serve (it served with --fps 0 or --width 0, and --connect-timeout inf was
    an OverflowError traceback and an abort)."""
    kw = {option[2:].replace("-", "_"): float(value)}
    with pytest.raises(InputError, match=option):
        Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", **kw))


def test_extension_options_reach_the_served_tracker(tiny_ckpt, video):
    """dt serve tracks with dt run's extension options (here the crop grid and scale search, as TEST keys)."""
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", pace=False,
                             ext={"CROP_GRID": "0.1", "SCALE_SEARCH": ["0.8"]}))
    assert "crop grid 0.1" in s.tracker.ext.describe() and "scale search 0.8" in s.tracker.ext.describe()
    assert Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu")).tracker.ext.describe() == (
        "official procedure")


def test_source_that_never_delivers_fails_within_the_timeout_and_leaves_no_files(tiny_ckpt, tmp_path):
    """An HTTP stream whose server accepts the connection and never answers (OpenCV alone would wait 30 s). Its
    outputs were left open and locked (the opener thread never came back), so the refused dt serve left an empty
    NAME.part and its .NAME.lock files behind; stop() now closes them: nothing is left."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/live.mjpg"
        session = Session(ServeOptions(url, artifact=str(tiny_ckpt), device="cpu", connect_timeout=1.0,
                                       jsonl=str(tmp_path / "r.jsonl"), output=str(tmp_path / "b.txt"),
                                       save=str(tmp_path / "v.avi")))
        t0 = time.monotonic()
        with pytest.raises(SourceTimeout, match="no frame within 1 s"):
            session.start()
        assert time.monotonic() - t0 < 15   # not OpenCV's own 30 s; a loaded test machine may add seconds to 1 s
        session.stop()
        assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.slow
def test_cli_source_that_never_delivers_exits_2(tiny_ckpt):
    """The CLI: one line, exit 2, without waiting for the opener that OpenCV keeps blocked (a subprocess: the
    process must exit cleanly while that thread is still inside FFmpeg)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/live.mjpg"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
        p = subprocess.run([sys.executable, "-m", "droptrack", "serve", url, "-m", str(tiny_ckpt), "--device", "cpu",
                            "--port", "0", "--connect-timeout", "1"], capture_output=True, text=True, env=env,
                           timeout=120)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [f"error: {url} delivered no frame within 1 s; check the device/URL, "
                                             "or raise --connect-timeout"]


def _open_box_parts() -> list[str]:
    """The box-file .part files this process holds open (Linux: /proc/self/fd)."""
    fds = Path("/proc/self/fd")
    names = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if re.search(r"boxes_\d+\.txt\.part$", target):
            names.append(Path(target).name)
    return names


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors through /proc")
def test_a_removed_targets_box_file_holds_no_descriptor(session, tmp_path):
    """--output: every target ever drawn kept its boxes_<id>.txt.part open until dt serve stopped (a page used for
    days reached the descriptor limit: 507s, 500s, a flood of tracebacks). A removed target's file is now flushed
    and closed at once, and still moved onto its name at the end."""
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    assert client.post("/pause").json() == {"state": "paused"}
    for k in range(6):
        r = client.post("/targets", json=dict(zip("xywh", FACE)))
        assert r.status_code == 201, r.text
        assert _open_box_parts() == [f"boxes_{k}.txt.part"]
        assert client.delete(f"/targets/{k}").status_code == 200
        assert _open_box_parts() == []
    kept = client.post("/targets", json=dict(zip("xywh", SECOND))).json()["id"]
    assert _open_box_parts() == [f"boxes_{kept}.txt.part"]
    assert client.post("/resume").status_code in (200, 409)   # 409: its 30 frames already ended
    wait_for(lambda: session.state == "ended", 60)
    session.stop()
    assert _open_box_parts() == [] and not list(tmp_path.glob("boxes_*.part"))
    files = sorted(p.name for p in tmp_path.glob("boxes_*.txt"))
    assert f"boxes_{kept}.txt" in files and len(files) >= 1
