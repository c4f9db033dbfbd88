"""`dt run --resume`: a run over an image folder that was killed (kill -9) or interrupted (SIGINT) continues, and its
files end up byte-identical to those of the same run left alone; what cannot be continued is refused in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import cli, drifting_clip, one_line_error

ROOT = Path(__file__).resolve().parents[1]
INIT = "30,22,26,20"
REFRESH = ["--template-refresh", "0", "--template-refresh-every", "3", "--scale-search", "0.8"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """360 frames of a textured square drifting over noise (96x72 PNGs)."""
    return drifting_clip(tmp_path_factory.mktemp("clip"), 360)


def args(clip: Path, ckpt: Path, out: Path, *extra: str) -> list[str]:
    return ["run", str(clip), "-m", str(ckpt), "--device", "cpu", "--threads", "1", "--init", INIT,
            "-o", str(out / "b.txt"), "--jsonl", str(out / "b.jsonl"), *extra]


@pytest.fixture(scope="module")
def reference(clip, tiny_ckpt, tmp_path_factory):
    """The uninterrupted runs' files: {settings: (boxes, jsonl)}."""
    refs = {}
    for name, extra in (("official", []), ("refresh", REFRESH)):
        out = tmp_path_factory.mktemp(f"ref_{name}")
        res = cli(*args(clip, tiny_ckpt, out, *extra))
        assert res.exit_code == 0, res.output
        refs[name] = ((out / "b.txt").read_bytes(), (out / "b.jsonl").read_bytes())
        assert not list(out.glob("*.resume*"))   # a finished run leaves no journal
    return refs


@pytest.mark.parametrize("name, extra", [("official", []), ("refresh", REFRESH)])
def test_kill_9_then_resume_writes_the_uninterrupted_files(clip, tiny_ckpt, reference, tmp_path, name, extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "droptrack", *args(clip, tiny_ckpt, tmp_path, *extra)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    part, t0 = tmp_path / "b.txt.part", time.time()
    while not (part.exists() and part.read_bytes().count(b"\n") >= 120):
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < 240
        time.sleep(0.005)
    proc.kill()
    proc.communicate(timeout=60)
    assert sorted(p.name for p in tmp_path.glob(".*.lock")) == [".b.jsonl.lock", ".b.txt.lock"]   # reused below
    journal = json.loads((tmp_path / "b.jsonl.resume.json").read_text())
    assert 1 <= journal["frames"] <= part.read_bytes().count(b"\n") < 360
    if name == "refresh":   # the refreshed templates were saved with it
        assert journal["template_version"] and (tmp_path / f"b.jsonl.resume.{journal['template_version']}.npz").exists()
    refused = one_line_error(cli(*args(clip, tiny_ckpt, tmp_path, *extra)))   # without --resume: told how
    assert "--resume" in refused
    res = cli(*args(clip, tiny_ckpt, tmp_path, *extra, "--resume"))
    assert res.exit_code == 0, res.output
    assert f"resumed after the {journal['frames']} frame" in res.output   # 'frame' or 'frames', either note
    boxes, jsonl = reference[name]
    assert (tmp_path / "b.txt").read_bytes() == boxes and (tmp_path / "b.jsonl").read_bytes() == jsonl
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl", "b.txt"]   # no journal, .part or templates


def test_sigint_then_resume_twice(clip, tiny_ckpt, reference, tmp_path):
    """Interrupted runs rename their files to NAME and keep the journal; a resumed run can be interrupted again."""
    from droptrack.runtime.run import RunOptions, run

    def opts(**kw) -> RunOptions:
        return RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=[INIT], output=str(tmp_path / "b.txt"),
                          jsonl=str(tmp_path / "b.jsonl"), device="cpu", threads=1, **kw)

    def interrupt_at(n: int):
        return lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == n else None

    first = run(opts(), on_frame=interrupt_at(40))
    assert first.interrupted and first.frames == 40 and first.journal is not None
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 40
    second = run(opts(resume=True), on_frame=interrupt_at(200))
    assert second.interrupted and second.resumed == 40 and second.frames == 200
    third = run(opts(resume=True))
    assert not third.interrupted and third.resumed == 200 and third.frames == 360 and third.journal is None
    boxes, jsonl = reference["official"]
    assert (tmp_path / "b.txt").read_bytes() == boxes and (tmp_path / "b.jsonl").read_bytes() == jsonl


def test_what_cannot_be_resumed_is_refused(clip, tiny_ckpt, tmp_path):
    base = args(clip, tiny_ckpt, tmp_path)
    assert "there is no journal" in one_line_error(cli(*base, "--resume"))
    assert "--overwrite would replace" in one_line_error(cli(*base, "--resume", "--overwrite"))
    assert "cannot continue a video" in one_line_error(cli(*base, "--resume", "--save", tmp_path / "v.mp4"))
    assert "--loop" in one_line_error(cli(*base, "--resume", "--loop"))
    assert "pass them as before" in one_line_error(cli("run", clip, "-m", tiny_ckpt, "--init", INIT, "--resume"))
    stopped = cli(*base, "--max-frames", "5")   # a finished run (--max-frames) leaves no journal either
    assert stopped.exit_code == 0 and not (tmp_path / "b.jsonl.resume.json").exists()
    # a run interrupted by a journal-writing process, then resumed with another --init
    (tmp_path / "b.txt").unlink()
    (tmp_path / "b.jsonl").unlink()
    from droptrack.runtime.run import RunOptions, run

    run(RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=[INIT], output=str(tmp_path / "b.txt"),
                   jsonl=str(tmp_path / "b.jsonl"), device="cpu", threads=1),
        on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 10 else None)
    other = args(clip, tiny_ckpt, tmp_path)
    other[other.index(INIT)] = "31,22,26,20"
    line = one_line_error(cli(*other, "--resume"))
    assert "--init differ" in line and "--overwrite to start over" in line
    (tmp_path / "b.txt").write_text("1\t2\t3\t4\n")   # cut by hand: fewer lines than the journal says
    assert "fewer than the 10 frames" in one_line_error(cli(*base, "--resume"))


def test_resume_with_no_earlier_run_says_drop_resume(clip, tiny_ckpt, tmp_path):
    """--resume with no journal and no outputs advised --overwrite, which a first run does not need."""
    line = one_line_error(cli(*args(clip, tiny_ckpt, tmp_path, "--resume")))
    assert "nothing to resume" in line and "drop --resume" in line and "--overwrite" not in line
    assert not (tmp_path / "b.txt").exists()
    (tmp_path / "b.txt").write_text("1,2,3,4\n")   # a finished run's boxes: replacing them does need --overwrite
    line = one_line_error(cli(*args(clip, tiny_ckpt, tmp_path, "--resume")))
    assert "there is no journal" in line and "--overwrite" in line


@pytest.mark.parametrize("inits", [[INIT], [INIT, "4,4,20,20", "60,40,20,20"]])
def test_resume_with_another_number_of_targets_names_the_killed_runs_init(clip, tiny_ckpt, tmp_path, inits):
    """A run of 2 targets (b_0.txt, b_1.txt) killed, then --resume with 1 or 3 --init boxes: one target said 'there
    is no journal ... nothing to resume; drop --resume' (the parts and the journal were there), three 'not the
    outputs given now; resume with the same output options (exactly --output b.txt)', which was given."""
    from droptrack.runtime.run import RunOptions, run

    two = [INIT, "4,4,20,20"]
    s = run(RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=two, output=str(tmp_path / "b.txt"),
                       device="cpu", threads=1),
            on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 10 else None)
    assert s.interrupted
    again = ["run", str(clip), "-m", str(tiny_ckpt), "--device", "cpu", "--threads", "1", "-o", str(tmp_path / "b.txt"),
             *[a for i in inits for a in ("--init", i)], "--resume"]
    line = one_line_error(cli(*again))
    assert "--resume: --init differs from the killed run's" in line, line
    assert "it ran with --init 30,22,26,20 --init 4,4,20,20" in line, line
