"""`dt eval` stopped by Ctrl-C said 'finished sequences are saved' even when none had finished. The line now says
how many are saved, and that none are when none had finished."""

import shutil

import pytest

from droptrack.data import get_sequences, generate_synth
from droptrack.eval.resume import interrupted_line
from droptrack.eval.run import evaluate
from droptrack.signals import Stopped


class Interrupting:
    """A sequence whose frames stop with Ctrl-C after the first (as a user's Ctrl-C in the middle of it)."""

    def __init__(self, seq):
        self._seq = seq

    def __getattr__(self, name):
        return getattr(self._seq, name)

    def __len__(self):
        return len(self._seq)

    def iter_frames(self):
        for i, frame in enumerate(self._seq.iter_frames()):
            if i == 1:
                raise KeyboardInterrupt
            yield frame


@pytest.fixture
def seqs(tmp_path):
    return get_sequences("synth", root=generate_synth(tmp_path / "set", 3, 3, seed=0, size=(96, 64), split="val"))


def test_one_of_three_saved(tmp_path, seqs):
    def stop(name):
        raise Stopped(15)

    with pytest.raises(KeyboardInterrupt) as info:
        evaluate(None, seqs, tmp_path / "out", threads=1, progress=False, on_sequence=stop, tracker="kcf")
    out = tmp_path / "out" / "kcf"
    assert interrupted_line(info.value) == (f"stopped by SIGTERM: 1 of 3 sequences saved in {out}; run the same "
                                            "command to resume")


def test_none_saved(tmp_path, seqs):
    with pytest.raises(KeyboardInterrupt) as info:
        evaluate(None, [Interrupting(s) for s in seqs], tmp_path / "out", threads=1, progress=False, tracker="kcf")
    line = interrupted_line(info.value)
    # the folder it began held only its eval.json: taken back, with the folder (it was left behind, 'none saved in')
    assert line == "interrupted: no sequence had finished, none saved; run the same command to start again"
    assert "finished sequences are saved" not in line
    assert not (tmp_path / "out").exists()


def test_none_saved_in_a_folder_an_earlier_run_began_keeps_its_eval_json(tmp_path, seqs):
    """A folder holding an earlier run's eval.json and nothing else (an earlier version's stop left such folders) is
    not this run's to take back: a rerun stopped before its first sequence keeps it."""
    evaluate(None, seqs, tmp_path / "out", threads=1, progress=False, tracker="kcf")
    out = tmp_path / "out" / "kcf"
    for p in out.iterdir():
        if p.name != "eval.json":
            p.unlink() if p.is_file() else shutil.rmtree(p)
    manifest = (out / "eval.json").read_bytes()
    with pytest.raises(KeyboardInterrupt) as info:
        evaluate(None, [Interrupting(s) for s in seqs], tmp_path / "out", threads=1, progress=False, tracker="kcf")
    assert interrupted_line(info.value) == (f"interrupted: no sequence had finished, none saved in {out}; run the "
                                            "same command to start again")
    assert (out / "eval.json").read_bytes() == manifest


def test_stopped_before_the_folder_was_made():
    assert interrupted_line(KeyboardInterrupt()) == ("interrupted before any sequence was tracked: nothing saved; run "
                                                     "the same command to start")


class StopWhileStarting:
    """A sequence whose frame list stops with Ctrl-C when the run reads it to fingerprint its inputs: a stop while a
    rerun still starts (before the tracker loads and the folder is locked), as a Ctrl-C during its imports."""

    def __init__(self, seq):
        self._seq = seq

    def __getattr__(self, name):
        if name == "frames":
            raise KeyboardInterrupt
        return getattr(self._seq, name)

    def __len__(self):
        return len(self._seq)


def test_rerun_stopped_while_starting_counts_the_earlier_results(tmp_path, seqs):
    """A rerun stopped before it tracked anything said 'nothing saved' while the folder kept the first run's
    sequence: the line counts what the folder holds, whichever run saved it."""
    def stop(name):
        raise Stopped(15)

    with pytest.raises(KeyboardInterrupt):   # the first run saves 1 of 3
        evaluate(None, seqs, tmp_path / "out", threads=1, progress=False, on_sequence=stop, tracker="kcf")
    with pytest.raises(KeyboardInterrupt) as info:
        evaluate(None, [StopWhileStarting(s) for s in seqs], tmp_path / "out", threads=1, progress=False,
                 tracker="kcf")
    out = tmp_path / "out" / "kcf"
    line = interrupted_line(info.value)
    assert line == f"interrupted: 1 of 3 sequences saved in {out}; run the same command to resume", line
    assert len(list(out.glob("*_time.txt"))) == 1   # the first run's sequence, kept
