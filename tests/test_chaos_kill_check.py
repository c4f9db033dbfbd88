"""benchmarks/chaos_kill.py: after dt run's clean stop on a soft signal (exit 130 / 143 / 129, outputs renamed complete
up to the last frame, as the README documents), a box file that holds the reference's first whole lines is complete;
after a SIGKILL, or cut inside a line, or with other boxes, it is a violation."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REF = b"60,40,40,50\n61,40,40,50\n62,41,40,50\n"   # three frames of boxes, as the uninterrupted run wrote them


@pytest.fixture(scope="module")
def chaos():
    spec = importlib.util.spec_from_file_location("chaos_kill", ROOT / "benchmarks" / "chaos_kill.py")
    mod = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as mp:   # dataclasses look the defining module up in sys.modules
        mp.setitem(sys.modules, "chaos_kill", mod)
        spec.loader.exec_module(mod)
    return mod


def test_first_frames_after_a_clean_stop_are_complete(chaos):
    case = chaos.Case("run", ["dt", "run"], exact=["b.txt"], stops=True)
    assert chaos.complete("b.txt", REF[:12], REF, case, stopped=True) is None
    assert chaos.complete("b.txt", REF, REF, case, stopped=True) is None


def test_a_partial_file_is_a_violation_unless_the_run_stopped_cleanly_on_a_line_end(chaos):
    case = chaos.Case("run", ["dt", "run"], exact=["b.txt"], stops=True)
    assert chaos.complete("b.txt", REF[:12], REF, case) == "b.txt: 12 bytes differ from the reference's 36"
    assert chaos.complete("b.txt", REF[:17], REF, case, stopped=True) is not None   # cut inside the second line
    assert chaos.complete("b.txt", b"60,40,40,51\n", REF, case, stopped=True) is not None   # another box


def test_only_dt_runs_exit_codes_count_as_a_clean_stop(chaos):
    assert chaos.STOPPED == {129, 130, 143}   # SIGHUP, SIGINT, SIGTERM: 128 + the signal number


def test_tensorboard_event_files_count_by_kind_not_by_name(chaos):
    """TensorBoard names each process's events file by time, host and pid: a resumed dt train writes its own beside
    the killed run's, as TensorBoard expects (purge_step drops the redone steps), so names never match the
    reference's; any other leftover or missing file is still a violation."""
    case = chaos.Case("train", ["dt", "train"], per_process=["tb/events.out.tfevents.*"])
    ref = ["last.pt", "tb/events.out.tfevents.100.vm.7.0"]
    resumed = ["last.pt", "tb/events.out.tfevents.101.vm.8.0", "tb/events.out.tfevents.102.vm.9.0"]
    assert chaos.unexpected(resumed, ref, case) == ([], [])
    assert chaos.unexpected(["last.pt", ".last.pt.x1.tmp"], ref, case) == ([".last.pt.x1.tmp"],
                                                                         ["tb/events.out.tfevents.*"])
    assert chaos.unexpected(["tb/events.out.tfevents.101.vm.8.0"], ref, case) == ([], ["last.pt"])
