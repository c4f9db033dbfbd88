"""An option that takes one value, given twice, is refused (one line, exit 2, both values named, nothing written):
Click kept the last value without a word (`dt run v.mp4 -o a.txt -o b.txt` wrote only b.txt). Options that take a
list, a flag given twice and the same value given twice are still taken."""

from __future__ import annotations

import pytest

from helpers import cli, one_line_error


def test_repeated_value_refused_before_any_work(tmp_path):
    """`dt data synth` with --frames twice made a set of 3 frames a sequence; now nothing is written."""
    out = tmp_path / "set"
    line = one_line_error(cli("data", "synth", out, "-n", "1", "--size", "64x64", "--frames", "2", "--frames", "3"))
    assert line == ("error: dt data synth: --frames is given twice ('2', then '3'); give it once "
                    "(see 'dt data synth --help')"), line
    assert not out.exists()


@pytest.mark.parametrize("args, expected", [
    (["run", "v.mp4", "-o", "a.txt", "-o", "b.txt"],
     "dt run: -o/--output is given twice ('a.txt', then 'b.txt'); give it once (see 'dt run --help')"),
    (["export", "ckpt", "--opset", "17", "--opset", "18"],
     "dt export: --opset is given twice ('17', then '18'); give it once (see 'dt export --help')"),
    (["data", "synth", "out", "--seed=1", "--seed", "2"], "dt data synth: --seed is given twice ('1', then '2')"),
    (["run", "v.mp4", "--output", "a", "-oa", "-o", "b"], "-o/--output is given 3 times ('a', 'a', then 'b')"),
    (["serve", "v.mp4", "--pace", "--no-pace"],
     "dt serve: --pace/--no-pace is given both ways ('--pace', then '--no-pace'); give one of them"),
])
def test_repeated_option_is_one_line_error(args, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli(*args))
    assert expected in line, line
    assert list(tmp_path.iterdir()) == []


def test_repeated_flag_and_same_value_are_taken(tmp_path):
    """`--overwrite` twice and `-n 1 --sequences 1` lose nothing: the set is made, of one sequence."""
    out = tmp_path / "set"
    res = cli("data", "synth", out, "-n", "1", "--sequences", "1", "--frames", "2", "--size", "64x64",
              "--overwrite", "--overwrite")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["synth_train_00001"]


@pytest.mark.parametrize("args, expected", [
    (["run", "missing.mp4", "--init", "1,2,3,4", "--init", "5,6,7,8"], "source 'missing.mp4' not found"),
    (["export", "missing.pt", "--precision", "fp16", "--precision", "int8"], "checkpoint 'missing.pt' not found"),
    (["train", "-c", "nosuchconfig", "-o", "o", "--data", "a=1", "--data", "b=2"], "unknown config 'nosuchconfig'"),
])
def test_repeatable_options_still_repeat(args, expected, tmp_path, monkeypatch):
    """Options that take a list get past the parse: the command's own check of another input answers."""
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli(*args))
    assert expected in line and "given" not in line, line


def test_help_wins_over_a_repeated_option():
    res = cli("run", "v.mp4", "-o", "a.txt", "-o", "b.txt", "-h")
    assert res.exit_code == 0 and "Usage:" in res.output, res.output


def test_every_command_group_refuses_repeats():
    """`dt` and its subgroups (`dt data`): each resolves its commands through OneValueGroup, which checks them."""
    from typer.main import get_command

    from droptrack.cli import app
    from droptrack.cli.one_value import OneValueGroup

    groups = [get_command(app)]
    while groups:
        group = groups.pop()
        assert isinstance(group, OneValueGroup), group.name
        groups += [cmd for cmd in group.commands.values() if hasattr(cmd, "commands")]
