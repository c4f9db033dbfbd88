"""The synthetic-data step's progress bar (dt demo's [1/4]) on a pipe or log file, and on a terminal."""
import pytest

from droptrack.data.synth import ensure_synth

TTY_VARS = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR")


@pytest.fixture
def plain_env(monkeypatch):
    for name in TTY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_blank_line_when_stderr_is_not_a_terminal(tmp_path, capfd, plain_env):
    ensure_synth(tmp_path / "s", sequences=5, frames=40, size=(96, 72), split="val", progress=True)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_a_terminal_still_gets_the_bar(tmp_path, capfd, plain_env):
    plain_env.setenv("FORCE_COLOR", "1")   # rich then treats stderr as a terminal
    ensure_synth(tmp_path / "s", sequences=5, frames=40, size=(96, 72), split="val", progress=True)
    assert "synth val" in capfd.readouterr().err
