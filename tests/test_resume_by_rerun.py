"""`dt eval ... --resume` (dt run, dt bench and dt train take --resume) said only 'No such option: --resume' (dt demo
and dt data synth added 'Possible options: --frames'); the one line now says that the same command, run again
without it, resumes."""

from __future__ import annotations

import pytest

from helpers import cli, one_line_error


@pytest.mark.parametrize("args, kept", [
    (["eval", "--dataset", "synth", "--resume"], "finished sequences are kept"),
    (["data", "synth", "out", "--resume"], "finished sequences are kept"),
    (["demo", "--resume"], "its synthetic data is kept"),
])
def test_resume_on_a_command_that_resumes_by_itself(args, kept):
    where = "dt " + " ".join(args[:2] if args[0] == "data" else args[:1])
    assert one_line_error(cli(*args)) == (f"error: {where}: no --resume option: it resumes when the same command "
                                          f"runs again without it ({kept}) (see '{where} --help')")


def test_other_unknown_options_keep_clicks_message():
    line = one_line_error(cli("demo", "--resume-now"))
    assert line == "error: dt demo: No such option: --resume-now (see 'dt demo --help')"


@pytest.mark.parametrize("message", ["No such option: --resume", "No such option '--resume'."])
def test_the_option_is_known_by_name_not_by_clicks_wording(message):
    # Click 8.1 (and typer's own copy) word it 'No such option: --resume', Click 8.2+ "No such option '--resume'."
    # (typer 0.16-0.24 run on the installed Click): the hint came only with the first
    try:
        from typer._click.exceptions import NoSuchOption
    except ImportError:
        from click.exceptions import NoSuchOption
    from droptrack.cli.app import resumed_by_rerun

    exc = NoSuchOption("--resume", message=message)
    assert resumed_by_rerun(exc, "dt eval") == ("no --resume option: it resumes when the same command runs again "
                                                "without it (finished sequences are kept)")
    assert resumed_by_rerun(NoSuchOption("--resume-now", message=message + "-now"), "dt eval") is None
    assert resumed_by_rerun(exc, "dt run") is None
