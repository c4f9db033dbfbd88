"""Click-level bad input (a mistyped option or command, a missing or non-numeric value) is one 'error: ' line with
exit code 2 and names the fix, like every other bad input; it was Click's usage line, a hint and a boxed panel."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import cli, one_line_error


@pytest.mark.parametrize("args, expected", [
    (["run", "camera0", "--checkpointt", "x"], ["dt run: No such option: --checkpointt", "--checkpoint",
                                                "see 'dt run --help'"]),
    (["exportt"], ["No such command 'exportt'", "Did you mean 'export'?", "see 'dt --help'"]),
    (["eval"], ["dt eval: Missing option '--dataset'", "see 'dt eval --help'"]),
    (["run"], ["dt run: Missing argument 'source'"]),
    (["run", "camera0", "--threads", "abc"], ["Invalid value for '--threads'", "see 'dt run --help'"]),
    (["data", "synth", "--nope"], ["dt data synth: No such option: --nope"]),
    (["run", "camera0", "--threads"], ["dt run: Option '--threads' requires an argument", "see 'dt run --help'"]),
    # an option without its value: Click gives no context, the line named 'dt' and 'dt --help'
    (["export", "--precision"], ["dt export: Option '--precision' requires an argument", "see 'dt export --help'"]),
    (["data", "synth", "out", "--frames"], ["dt data synth: Option '--frames' requires an argument",
                                            "see 'dt data synth --help'"]),
    (["train", "--resume=maybe"], ["dt train: Option '--resume' does not take a value", "see 'dt train --help'"]),
])
def test_usage_error_is_one_line(args, expected):
    line = one_line_error(cli(*args))
    for part in expected:
        assert part in line, line
    assert "╭" not in line and "Usage:" not in line


def test_bare_dt_still_prints_the_help():
    """No arguments is not an error line: the help is printed (exit 2, as Click does)."""
    result = cli()
    assert result.exit_code == 2 and "Commands" in result.output and "error:" not in result.output


def test_usage_error_from_the_real_entry_point():
    """The console script path (`python -m droptrack`, as `dt`), not only the in-process runner."""
    p = subprocess.run([sys.executable, "-m", "droptrack", "bench", "--no-such-flag"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: dt bench: No such option: --no-such-flag"), p.stderr


def test_usage_error_of_torchrun_entry_point_names_dt_train():
    """`torchrun ... -m droptrack.train` takes dt train's options; its errors pointed at 'droptrack.train train
    --help', which is no command."""
    p = subprocess.run([sys.executable, "-m", "droptrack.train", "--no-such-flag"], capture_output=True, text=True,
                       timeout=120)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert lines[0] == "error: dt train: No such option: --no-such-flag (see 'dt train --help')", lines[0]


def test_short_help_and_version_flag():
    """`dt -h`, `dt run -h` and `dt --version` were 'No such option' errors; they are what people type first."""
    from droptrack import __version__

    for args in (["-h"], ["run", "-h"], ["data", "synth", "-h"]):
        res = cli(*args)
        assert res.exit_code == 0 and "Usage:" in res.output, (args, res.output)
    res = cli("--version")
    assert res.exit_code == 0 and res.output.strip() == __version__
