"""Two `dt run`s onto the same files, started together: the first one's results are not replaced by the second
without --overwrite. Each checks its outputs before it loads the model, but takes their lock only at the first
frame; a first run that ended in between (a short clip) had renamed its results onto the names, and the second
one then streamed its own over them, both exiting 0. The check is made again under the lock."""

from __future__ import annotations

import contextlib

import pytest

from droptrack.errors import InputError
from droptrack.runtime import outlock
from droptrack.runtime.run import RunOptions, run
from helpers import drifting_clip

EARLIER = "30\t22\t26\t20\n"   # the first run's result file, renamed onto its name after our checks


def _ended_before_the_lock(monkeypatch, files):
    """Make `files` appear, as a run that ended would leave them, just before this run takes its output locks."""
    real = outlock.locked

    @contextlib.contextmanager
    def locked(paths, *args, **kwargs):
        for f in files:
            f.write_text(EARLIER)
        with real(paths, *args, **kwargs):
            yield

    monkeypatch.setattr(outlock, "locked", locked)


@pytest.mark.parametrize("option,names", [("output", ["b.txt"]), ("jsonl", ["b.jsonl"]),
                                          ("output2", ["b_0.txt", "b_1.txt"])])
def test_results_that_appear_before_the_lock_are_not_replaced(tmp_path, monkeypatch, option, names):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 4)
    out = tmp_path / "out"
    out.mkdir()
    init = ["30,22,26,20", "10,10,20,20"] if option == "output2" else ["30,22,26,20"]
    path = str(out / ("b.jsonl" if option == "jsonl" else "b.txt"))
    opts = RunOptions(source=str(clip), init=init, device="cpu", threads=1,
                      **{("jsonl" if option == "jsonl" else "output"): path})
    _ended_before_the_lock(monkeypatch, [out / n for n in names[-1:]])
    with pytest.raises(InputError, match="already exists and holds data.*--overwrite"):
        run(opts)
    assert (out / names[-1]).read_text() == EARLIER   # as the first run left it
    assert sorted(p.name for p in out.iterdir()) == names[-1:]   # no .part, journal or lock of ours


def test_overwrite_still_replaces_them(tmp_path, monkeypatch):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 4)
    out = tmp_path / "b.txt"
    _ended_before_the_lock(monkeypatch, [out])
    summary = run(RunOptions(source=str(clip), init=["30,22,26,20"], output=str(out), device="cpu", threads=1,
                             overwrite=True))
    assert summary.frames == 4 and len(out.read_text().splitlines()) == 4
