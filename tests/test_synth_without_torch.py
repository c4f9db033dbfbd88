"""`dt data synth` starts without torch: it only needs the default model's path for its next-command line, and
droptrack.model imported torch (seconds per `dt data synth` process, several per benchmark and test run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_data_synth_runs_with_torch_unimportable(tmp_path):
    """The command's own next line names the embedded weights; `import torch` fails, as on an install without it."""
    code = ("import sys\nsys.modules['torch'] = None\nfrom droptrack.cli import app\n"
            f"app(['data', 'synth', {str(tmp_path / 's')!r}, '--sequences', '1', '--frames', '20'])")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "droptrack_tiny_synth.pt" in r.stdout   # in its `next: dt train ... --pretrained ...` hint
    assert (tmp_path / "s" / "list.txt").read_text().split() == ["synth_train_00001"]


def test_model_package_still_gives_its_names():
    """`from droptrack.model import build_model, OSTrack` is what it was; unknown names are an AttributeError."""
    import droptrack.model as model
    from droptrack.model import OSTrack, build_model
    from droptrack.model.ostrack import OSTrack as direct_cls
    from droptrack.model.ostrack import build_model as direct_fn

    assert (OSTrack, build_model) == (direct_cls, direct_fn)
    try:
        model.no_such_name
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("droptrack.model.no_such_name did not raise")


def test_a_train_set_too_short_to_train_on_gets_no_train_hint(tmp_path):
    """`dt data synth OUT --frames 5` offered `dt train ... --data OUT`, which fails: pairs come only from sequences
    of 20+ frames (the official sampler's rule); it now says so and offers dt eval on the set."""
    from helpers import cli

    r = cli("data", "synth", tmp_path / "s", "--sequences", "1", "--frames", "5")
    assert r.exit_code == 0, r.output
    assert "next: dt train" not in r.output
    assert f"next: dt eval --dataset synth --root {tmp_path / 's'}" in r.output
    assert "--frames 20 or more" in r.output


def test_the_next_train_line_names_a_run_folder_that_is_free_so_it_pastes(tmp_path, monkeypatch):
    """Every set's next line said --output runs/synth: pasted for a second set (or after a first trial) dt train refused
    it, 'holds another training run'. It now names runs/<the set's folder>, or runs/<folder>_N where that is taken."""
    import shlex

    from helpers import cli

    monkeypatch.chdir(tmp_path)   # the line is pasted where dt data synth ran: runs/ is relative to it
    (tmp_path / "runs" / "my set").mkdir(parents=True)
    (tmp_path / "runs" / "my set" / "checkpoint_ep0001.pt").write_bytes(b"an earlier run")
    r = cli("data", "synth", "my set", "--sequences", "1", "--frames", "20")
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.output.splitlines() if ln.startswith("next: dt train"))
    words = shlex.split(line[len("next: "):])
    assert words[words.index("--output") + 1] == "runs/my set_2" and words[words.index("--data") + 1] == "my set"
    assert not (tmp_path / "runs" / "my set_2").exists()
