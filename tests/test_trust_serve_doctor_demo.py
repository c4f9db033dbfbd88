"""A checkpoint that pickles a foreign object (conftest's `with_args`: a training script's types.SimpleNamespace)
was refused by dt serve, dt doctor and dt demo with advice they could not follow: their refusal said 'pass
--trust-checkpoint' and the option was 'No such option' there. Each command that reads a checkpoint takes it now,
reads the file as the same weights as the plain checkpoint, and a command it prints that loads that checkpoint again
carries the option."""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pytest
from helpers import cli, one_line_error

from droptrack.data.media import bundled_video

SAID = re.compile(r"pass --trust-checkpoint \(([^)]*)\)")


def refusal_for(command: str, result) -> str:
    """The one-line refusal (exit 2) of a checkpoint with foreign objects, which names `dt COMMAND` as taking the
    option; the option is in that command's help."""
    line = one_line_error(result)
    said = SAID.search(line)
    assert "types.SimpleNamespace" in line and said is not None, line
    assert f"dt {command}" in said.group(1).split(", "), line
    assert "--trust-checkpoint" in cli(command, "--help").output
    return line


def test_doctor_reads_it_with_the_option_as_the_plain_checkpoint(with_args, tiny_ckpt):
    refusal_for("doctor", cli("doctor", with_args))
    trusted, plain = cli("doctor", with_args, "--trust-checkpoint"), cli("doctor", tiny_ckpt)
    assert trusted.exit_code == 0 and plain.exit_code == 0, trusted.output + plain.output

    def size(output: str) -> str:   # the parameters and GFLOPs line, without the file name
        return next(ln for ln in output.splitlines() if "GFLOPs" in ln).split(": ", 2)[-1]

    assert size(trusted.output) == size(plain.output)
    assert "runs with the torch backend" in trusted.output


def test_doctor_refuses_the_option_where_it_reads_no_checkpoint(tiny_fp32_export):
    assert "--trust-checkpoint applies to a checkpoint" in one_line_error(cli("doctor", "--trust-checkpoint"))
    line = one_line_error(cli("doctor", tiny_fp32_export / "model.onnx", "--trust-checkpoint"))
    assert "--trust-checkpoint applies to checkpoints" in line and "ONNX graph" in line, line


def test_serve_refuses_it_before_serving_and_names_the_option(with_args, video, tiny_fp32_export, tmp_path):
    pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
    refusal_for("serve", cli("serve", video, "-m", with_args, "--port", "0", "-o", tmp_path / "b.txt"))
    assert not list(tmp_path.iterdir())   # nothing written, nothing served
    onnx = cli("serve", video, "-m", tiny_fp32_export / "model.onnx", "--trust-checkpoint", "--port", "0")
    assert "--trust-checkpoint" in one_line_error(onnx)


def test_serve_with_the_option_tracks_as_the_plain_checkpoint(with_args, tiny_ckpt, video, tmp_path, one_thread):
    pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
    pytest.importorskip("httpx", reason="the API tests use Starlette's TestClient (httpx)")
    from fastapi.testclient import TestClient

    from droptrack.serve.app import create_app
    from droptrack.serve.options import ServeOptions
    from droptrack.serve.session import Session
    from serve_helpers import FACE, wait_for

    def boxes(ckpt, trust: bool, name: str) -> np.ndarray:
        s = Session(ServeOptions(str(video), artifact=str(ckpt), device="cpu", pace=False, max_frames=6,
                                 output=str(tmp_path / f"{name}.txt"), trust_checkpoint=trust))
        s.start()
        try:
            client = TestClient(create_app(s), base_url="http://127.0.0.1")
            assert client.post("/targets", json=dict(zip("xywh", FACE))).status_code == 201
            wait_for(lambda: s.state == "ended")
        finally:
            s.stop()
        return np.loadtxt(tmp_path / f"{name}_0.txt", delimiter="\t")

    trusted, plain = boxes(with_args, True, "trusted"), boxes(tiny_ckpt, False, "plain")
    assert trusted.shape == plain.shape == (6, 4)
    np.testing.assert_array_equal(trusted, plain)


DEMO_CUT = ["--sequences", "1", "--frames", "3", "--video-frames", "2", "--threads", "1"]


def test_demo_refuses_it_before_any_work(with_args, tmp_path):
    refusal_for("demo", cli("demo", "--checkpoint", with_args, "-o", tmp_path / "demo", *DEMO_CUT))
    assert not (tmp_path / "demo").exists()


def test_demo_with_the_option_and_the_bench_line_it_prints(with_args, tmp_path):
    from droptrack.demo_folder import is_demo_folder

    out = tmp_path / "demo"
    res = cli("demo", "--checkpoint", with_args, "--trust-checkpoint", "-o", out, *DEMO_CUT)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "bench" / "bench.json").read_text())
    assert report["rows"][0]["artifact"] == str(with_args)
    assert "--trust-checkpoint" in shlex.split(report["command"]) and is_demo_folder(out)   # a rerun may write there
    line = next(ln for ln in res.output.splitlines() if ln.startswith("next: dt bench"))
    words = shlex.split(line.removeprefix("next: "))
    assert str(with_args) in words and "--trust-checkpoint" in words, line
    video = bundled_video("carphone_pristine.mp4")
    words = [str(video) if w == "VIDEO" else "60,20,50,60" if w == "x,y,w,h" else w for w in words]
    ran = cli(*words[1:], "--frames", "3", "--threads", "1", "-o", tmp_path / "b")
    assert ran.exit_code in (0, 1), ran.output   # 1: a gate of the small model's INT8 graph; never a refusal
    rows = json.loads((tmp_path / "b" / "bench.json").read_text())["rows"]
    assert rows[0]["artifact"] == str(with_args) and rows[0]["status"] != "failed"
