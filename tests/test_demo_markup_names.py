"""`dt demo` prints its step lines (the checkpoint's name, the export's lines naming its path) and its closing lines
(report, video and plot paths under --output) as plain text: a path that reads as rich markup ('[bold]d[' / 'x]')
ended the demo in a MarkupError traceback, the closing one after all its work was done."""

from __future__ import annotations

from helpers import cli


def test_paths_that_read_as_rich_markup_are_printed_as_they_are(small_demo):
    """The session's one demo run (tests/conftest.py): its checkpoint and output paths read as rich markup."""
    ckpt, out, res = small_demo
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    text = "".join(res.output.split())   # long lines may wrap anywhere (the output folder's space goes too)
    report = "".join(f"report:{out / 'bench' / 'bench.md'}".split())
    assert f"loaded{ckpt}(" in text and report in text, res.output


def test_the_interrupted_line_names_the_output_with_control_characters_escaped(tmp_path, monkeypatch):
    """Ctrl-C names the --output to continue in: its control characters went to the terminal raw."""
    import droptrack.demo

    def interrupted(*args, **kwargs):   # Ctrl-C during the demo's work
        raise KeyboardInterrupt

    monkeypatch.setattr(droptrack.demo, "run_demo", interrupted)
    out = tmp_path / "d\x1b[2J"
    res = cli("demo", "-o", out)
    assert res.exit_code == 130, res.output
    assert res.output.startswith(f"interrupted; run the same command again to continue in '{tmp_path}/d\\x1b[2J': "), \
        res.output
