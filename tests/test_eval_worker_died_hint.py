"""A `dt eval` run whose worker process died (kill -9, the OOM killer) ended with 'fix the input and run the same
command to resume': nothing was wrong with the input. A dead worker's error now points at memory (fewer --workers);
a bad input still says to fix it."""

import pytest

from droptrack.errors import DatasetError
from droptrack.eval.run import _track_all
from droptrack.eval.run_result import EvalResult
from droptrack.eval.workers import WorkerDied


class Failing:
    """Stands in for LoadedTrackers: every sequence ends with its given error."""

    def __init__(self, errors):
        self.errors = errors

    def run(self, seqs, progress, on_done):
        for seq in seqs:
            on_done(None, seq, self.errors[seq.name])


def _fail(tmp_path, errors):
    seqs = [type("Seq", (), {"name": n, "__len__": lambda self: 3})() for n in errors]
    result = EvalResult(tmp_path, "t", "synth", list(errors), {}, {})
    with pytest.raises(DatasetError) as info:
        _track_all(Failing(errors), seqs, tmp_path, result, False, None)
    return str(info.value)


def test_dead_worker_points_at_memory(tmp_path):
    line = _fail(tmp_path, {"a": WorkerDied("its worker process (pid 7) died without a result")})
    assert "fix the input" not in line
    assert "fewer --workers" in line and "run the same command to resume" in line


def test_bad_input_still_says_fix_it(tmp_path):
    line = _fail(tmp_path, {"a": DatasetError("frame 3 is missing")})
    assert "fix the input" in line and "--workers" not in line


def test_both_say_both(tmp_path):
    line = _fail(tmp_path, {"a": DatasetError("frame 3 is missing"), "b": WorkerDied("died")})
    assert "fix the input" in line and "fewer --workers" in line
