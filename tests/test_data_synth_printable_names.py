"""`dt data synth OUT` names the set it wrote: an OUT holding control characters reached the terminal raw (an
escape sequence that clears the screen, swallowed from the name where it is not a terminal); it is escaped now, as
in every error line, and the `next:` command quotes it for bash ($'...')."""

from __future__ import annotations

from helpers import cli, pasted


def test_the_set_is_named_with_its_control_characters_escaped(tmp_path):
    out = tmp_path / "s\x1b[2Jx"
    res = cli("data", "synth", out, "--split", "val", "--sequences", 1, "--frames", 3, "--size", "64x64")
    assert res.exit_code == 0, res.output
    assert (out / "list.txt").is_file()
    line = next(ln for ln in res.output.splitlines() if ln.startswith("synthetic set: "))
    assert line.startswith(f"synthetic set: {tmp_path}/s\\x1b[2Jx (1 sequence x 3 frames, val split)"), res.output
    nxt = next(ln for ln in res.output.splitlines() if ln.startswith("next: "))   # text, and pastes as that folder
    argv = pasted(nxt.removeprefix("next: "))   # ... --root PATH --split val: the path pastes as it was given
    assert "\x1b" not in res.output and argv[argv.index("--root") + 1] == str(out), res.output


def test_the_interrupted_line_names_the_folder_with_control_characters_escaped(tmp_path, monkeypatch):
    import droptrack.data.synth

    def interrupted(*args, **kwargs):   # Ctrl-C while the sequences are made
        raise KeyboardInterrupt

    monkeypatch.setattr(droptrack.data.synth, "generate_synth", interrupted)
    (tmp_path / "s\x1b[2Jx").mkdir()   # a folder it had written to (none left: tests/test_bench_signals.py)
    from droptrack.data.synth_journal import PROGRESS   # one sequence finished there: 'saved' (none: 'nothing saved')

    (tmp_path / "s\x1b[2Jx" / PROGRESS).write_text('{}\n["synth_train_00001", []]\n')
    res = cli("data", "synth", tmp_path / "s\x1b[2Jx")
    assert res.exit_code == 130, res.output
    assert res.output.startswith(f"interrupted: finished sequences are saved in {tmp_path}/s\\x1b[2Jx; "), res.output
