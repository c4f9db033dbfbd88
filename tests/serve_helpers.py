"""Shared by the dt serve tests: the boxes drawn on carphone_pristine.mp4, a started session, waiting, a real uvicorn
server, the CLI, Outputs over an earlier session's files."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.serve.options import ServeOptions
from droptrack.serve.session import Session

runner = CliRunner()
FACE = [60.0, 20.0, 50.0, 60.0]      # the caller's head in carphone_pristine.mp4 (176x144), frame 0
SECOND = [10.0, 70.0, 40.0, 40.0]
RESELECT = [12.0, 66.0, 44.0, 46.0]
WS = "ws://127.0.0.1"                # TestClient's WebSockets default to the Host 'testserver' (not loopback)


@pytest.fixture
def session(tiny_ckpt, video, tmp_path):
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", max_targets=2, pace=False,
                             jsonl=str(tmp_path / "serve.jsonl"), output=str(tmp_path / "boxes.txt"),
                             max_frames=30))
    s.start()
    yield s
    s.stop()


def wait_for(cond, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@contextlib.contextmanager
def serving(asgi, **limits):
    """A real uvicorn server of dt serve's settings (`limits`: server_config's) serving `asgi` on a free loopback
    port, started; yields (server, port); told to exit and joined when the block ends."""
    import uvicorn

    from droptrack.serve.server import bind_socket, server_config

    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(server_config(asgi, **limits))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started)
        yield server, sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def serve_cli(*args):
    return runner.invoke(app, ["serve", *map(str, args)])


def one_line_exit_2(r, *words) -> None:
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    for w in words:
        assert w in lines[0], r.output


@contextlib.contextmanager
def outputs_over(old: dict, video, tiny_ckpt, tmp_path):
    """dt serve's Outputs (--overwrite, --jsonl f.jsonl, --output boxes.txt) over an earlier session's files `old`
    ({name: text}, written into tmp_path), opened, with one new line in f.jsonl.part and boxes_0.txt.part; released
    when the block ends."""
    from droptrack.serve.outputs import Outputs

    for name, text in old.items():
        (tmp_path / name).write_text(text)
    outputs = Outputs(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", overwrite=True,
                                   jsonl=str(tmp_path / "f.jsonl"), output=str(tmp_path / "boxes.txt")))
    try:
        outputs.open()
        outputs.box_sinks[0] = outputs.open_box_file(0)
        outputs.sinks[0].out.write_line('{"frame": 0, "new": true}')
        outputs.box_sinks[0].files[0].write_line("5\t6\t7\t8")
        yield outputs
    finally:
        outputs.release()
