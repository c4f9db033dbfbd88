"""`dt demo` prints its step lines (the checkpoint's name, the export's lines naming its path) and its closing lines
(report, video and plot paths under --output) as plain text: a path that reads as rich markup ('[bold]d[' / 'x]')
ended the demo in a MarkupError traceback, the closing one after all its work was done."""

from __future__ import annotations

import shutil

from helpers import cli


def test_paths_that_read_as_rich_markup_are_printed_as_they_are(tiny_ckpt, tmp_path):
    ckpt = tmp_path / "[bold]c[" / "x]" / "tiny.pt"   # the path reads '.../[bold]c[/x]/tiny.pt'
    ckpt.parent.mkdir(parents=True)
    shutil.copy(tiny_ckpt, ckpt)
    out = tmp_path / "[bold]d[" / "x]"
    res = cli("demo", "--checkpoint", ckpt, "-o", out, "--sequences", 1, "--frames", 3, "--video-frames", 2,
              "--threads", 1)
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    text = "".join(res.output.split())   # long lines may wrap anywhere
    assert f"loaded{ckpt}(" in text and f"report:{out / 'bench' / 'bench.md'}" in text, res.output


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
