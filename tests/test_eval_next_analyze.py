"""The `next: dt analyze ...` line of dt eval runs as printed: README's `DT_DATA_LASOT=/data/lasot dt eval ...` sets
the root for that one command, so the hint without `--root` failed ('no root for lasot'); and after `--sequences`,
dt analyze (which had no such option) scored the whole dataset (a LaSOT root without every test folder: refused)."""

from __future__ import annotations

import shlex

from helpers import cli, drifting_clip


def _root(folder):
    for name in ("seq_a", "seq_b", "seq_c"):
        (folder / name).mkdir(parents=True)
        drifting_clip(folder / name, 4)
        (folder / name / "groundtruth.txt").write_text("30,22,26,20\n" * 4)
    (folder / "list.txt").write_text("seq_a\nseq_b\nseq_c\n")
    return folder


def test_the_analyze_hint_runs_as_printed_after_an_env_root_and_sequences(tmp_path, monkeypatch):
    root = _root(tmp_path / "mine")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DT_DATA_SYNTH", str(root))
    res = cli("eval", "--dataset", "synth", "--tracker", "mil", "--sequences", "seq_a,seq_b", "-o", "res")
    assert res.exit_code == 0, res.output
    hint = next(ln for ln in res.output.splitlines() if ln.startswith("next: dt analyze"))
    args = shlex.split(hint.removeprefix("next: dt "))
    assert args[args.index("--root") + 1] == str(root) and args[args.index("--sequences") + 1] == "seq_a,seq_b"
    monkeypatch.delenv("DT_DATA_SYNTH")   # the prefix set it for dt eval only
    res = cli(*args)
    assert res.exit_code == 0, res.output
    assert "2/2 sequences" in res.output and "seq_c" not in res.output, res.output


def test_the_analyze_hint_names_folders_with_an_escape_sequence_as_text_that_pastes(tmp_path, monkeypatch):
    """A root and --output holding an escape sequence: the hint sent it to the terminal raw; now the line is text and
    bash reads back the folders (quoted as $'...')."""
    from helpers import pasted

    monkeypatch.chdir(tmp_path)   # the pasted dt analyze writes analysis/synth here, not into the checkout
    root = _root(tmp_path / "m\x1b[2J")
    res = cli("eval", "--dataset", "synth", "--root", root, "--tracker", "mil", "-o", tmp_path / "r[/x]\x1b[2J")
    assert res.exit_code == 0 and "\x1b" not in res.output, res.output
    hint = next(ln for ln in res.output.splitlines() if ln.startswith("next: dt analyze"))
    args = pasted(hint.removeprefix("next: "))
    assert args[args.index("--root") + 1] == str(root) and args[1].startswith(str(tmp_path / "r[/x]\x1b[2J")), hint
    assert cli(*args).exit_code == 0
