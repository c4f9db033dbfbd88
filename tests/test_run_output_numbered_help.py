"""dt run --help said several targets' boxes go to NAME_<k>.txt, but `-o boxes` (no extension) wrote boxes_0 and
boxes_1 (the _<k> goes before the name's own extension, none here): the help now states that rule, and each name it
gives as an example is the name a run writes."""

from __future__ import annotations

import typer

from helpers import cli, drifting_clip

from droptrack.cli import app


def _output_help() -> str:
    run = typer.main.get_command(app).commands["run"]
    return next(p.help for p in run.params if "--output" in p.opts)


def test_run_output_help_names_the_files_several_targets_write(tiny_ckpt, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    drifting_clip(frames, 4)
    said = _output_help()
    assert "NAME_<k>.txt" not in said and "_<k> before the extension" in said, said
    for name in ("boxes.txt", "boxes"):
        out = tmp_path / name.replace(".", "_") / name
        out.parent.mkdir()
        res = cli("run", frames, "-m", tiny_ckpt, "--init", "30,22,26,20", "--init", "5,5,20,20", "-o", out)
        assert res.exit_code == 0, res.output
        written = sorted(p.name for p in out.parent.iterdir())
        assert f"{name} -> {written[0]}, {written[1]}" in said and len(written) == 2, (written, said)


def test_serve_output_help_names_the_files_its_targets_get():
    """dt serve --help said NAME_<id>.txt too; `-o boxes` gives boxes_<id> (box_file names what a target writes)."""
    from droptrack.serve.options import box_file

    run = typer.main.get_command(app).commands["serve"]
    said = next(p.help for p in run.params if "--output" in p.opts)
    assert "NAME_<id>.txt" not in said and "_<id> before the extension" in said, said
    for name in ("boxes.txt", "boxes"):   # the first target drawn has id 0 (its example named boxes_1.txt)
        assert f"{name} -> {box_file(name, 0)}" in said and "the first target" in said, said
