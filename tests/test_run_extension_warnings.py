"""dt run --template-refresh 0.1 --lost-threshold 0.3 ran without a word, though the README asks for the refresh
threshold at or above --lost-threshold: frames reported lost (score 0.1-0.3) could crop a new template on what the
box had drifted to. Such a pair now gets one warning line naming the values that avoid it. So does --reacq-factor 2
on the default model, whose own search factor is 4: the factor is the re-acquisition crop's, not a multiple, so the
'wide' search was half as wide as the normal one (the summary's 're-acquisition x2' read as twice as wide)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli, drifting_clip, reaped

WARNING = ("warning: template refresh at 0.1 is below --lost-threshold 0.3: a frame reported lost with a score from "
           "0.1 to 0.3 can crop a new template on what the box has drifted to; pass --template-refresh 0.3 or more, "
           "or a lower --lost-threshold")


@pytest.mark.parametrize("refresh, lost, warned", [("0.1", "0.3", True), ("0.3", "0.3", False),
                                                   ("0.1", "0", False)])
def test_refresh_under_the_lost_threshold_is_warned_about(tmp_path, one_thread, refresh, lost, warned):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 3)
    res = cli("run", clip, "--init", "30,22,26,20", "--template-refresh", refresh, "--lost-threshold", lost,
              "-o", tmp_path / "boxes.txt", "--threads", "1")
    assert res.exit_code == 0, res.output
    said = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert said == ([WARNING] if warned else []), res.output


def test_without_template_refresh_nothing_is_said(tmp_path, one_thread):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 3)
    res = cli("run", clip, "--init", "30,22,26,20", "--lost-threshold", "0.9", "-o", tmp_path / "boxes.txt",
              "--threads", "1")
    assert res.exit_code == 0, res.output
    assert not [ln for ln in res.output.splitlines() if ln.startswith("warning:")], res.output


@pytest.mark.parametrize("factor, warned", [("2", True), ("4", True), ("8", False)])
def test_a_reacquisition_no_wider_than_the_model_s_search_is_warned_about(tmp_path, one_thread, factor, warned):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 3)
    res = cli("run", clip, "--init", "30,22,26,20", "--reacq-factor", factor, "-o", tmp_path / "boxes.txt",
              "--threads", "1")
    assert res.exit_code == 0, res.output
    said = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert said == ([f"warning: --reacq-factor {factor} is the search factor of the re-acquisition crop, not a "
                     "multiple, and this model already searches 4x the target (TEST.SEARCH_FACTOR): a lost target "
                     "is searched for in a crop no wider than usual; pass more than 4, e.g. 8"]
                    if warned else []), res.output


def test_dt_serve_gives_dt_runs_warnings(tmp_path, one_thread):
    """dt serve takes the same extension options but said neither warning: it now gives the same lines (one shared
    function), on stderr before it serves, here both at once; its first line names the procedure as dt run's
    summary does."""
    pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 3)
    options = ["--template-refresh", "0.1", "--lost-threshold", "0.3", "--reacq-factor", "2", "--threads", "1"]
    res = cli("run", clip, "--init", "30,22,26,20", *options, "-o", tmp_path / "boxes.txt")
    assert res.exit_code == 0, res.output
    expected = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert len(expected) == 2 and expected[0] == WARNING, res.output
    procedure = res.output.split("; tracker: ")[1].split("\n")[0].strip()   # dt run's summary names the extensions
    assert "re-acquisition x2 (motion); template refresh at 0.1" in procedure, res.output
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", "droptrack", "serve", str(clip), "--device", "cpu", "--port", "0",
                          *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    with reaped(p):
        lines = [p.stdout.readline()]
        while lines[-1] and not lines[-1].startswith("serving "):
            lines.append(p.stdout.readline())
        assert lines[-1], "dt serve ended before serving: " + p.stderr.read()
        # and its log names them as dt run's summary does (they were said nowhere: not in the log, /stats or page)
        assert lines[0].startswith("tracking ") and lines[0].endswith(f"; tracker: {procedure}\n"), lines
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert [ln for ln in err.splitlines() if ln.startswith("warning:")] == expected, err


@pytest.mark.parametrize("options, said", [   # --anchor-scale off: whatever the embedded model's own key
    (["--anchor-scale", "off", "--anchor-size", "network"], ["--anchor-size network acts"]),
    (["--anchor-scale", "off", "--anchor-size", "network", "--anchor-gate", "0.5"],
     ["--anchor-size network and --anchor-gate 0.5 act"]),
    (["--anchor-scale", "off", "--anchor-ncc", "0.8", "--anchor-gate", "0.5"], []),   # the gate acts on NCC's centre
    (["--anchor-scale", "1.0", "--anchor-size", "network", "--anchor-gate", "0.5"], [])])
def test_anchor_size_or_gate_without_the_scale_filter_is_warned_about(tmp_path, one_thread, options, said):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 3)
    res = cli("run", clip, "--init", "30,22,26,20", *options, "-o", tmp_path / "boxes.txt", "--threads", "1")
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert len(lines) == len(said) and all(ln.startswith("warning: " + s) for ln, s in zip(lines, said)), res.output
    assert all("--anchor-scale is off" in ln for ln in lines)
