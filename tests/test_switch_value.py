"""A switch (`--fp16`, `--show`, `--resume`) takes no value. Its help showed typer's type `<bool>` beside it, which
reads as a value to give; `dt export --fp16 true` then said "checkpoint 'true' not found" and `dt run v.mp4 --show
true` 'unexpected extra argument'. Now the help shows no type for a switch, and a true/false word after one is one
error line naming the switch."""

from __future__ import annotations

import pytest

from droptrack.cli.app import switch_given_value
from helpers import cli, one_line_error


@pytest.mark.parametrize("verb", [(), ("run",), ("export",), ("train",), ("data", "synth")])
def test_help_shows_no_type_for_a_switch(verb):
    res = cli(*verb, "--help")
    assert res.exit_code == 0, res.output
    assert "<bool>" not in res.output, res.output
    assert "--help" in res.output


@pytest.mark.parametrize("args, flag, word", [
    (["export", "--fp16", "true"], "--fp16", "true"),
    (["run", "clip.mp4", "--init", "1,2,3,4", "--show", "False"], "--show", "False"),
    (["train", "-c", "x", "-o", "y", "--resume", "yes"], "--resume", "yes"),
])
def test_a_value_after_a_switch_is_one_line_naming_it(tmp_path, monkeypatch, args, flag, word):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli(*args))
    assert f"{flag} takes no value" in line and f"drop '{word}'" in line, line
    assert list(tmp_path.iterdir()) == []


def test_a_file_named_like_a_word_is_an_argument(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flags = frozenset(["--fp16"])
    assert switch_given_value(["export", "--fp16", "on"], flags) is not None
    (tmp_path / "on").write_bytes(b"")
    assert switch_given_value(["export", "--fp16", "on"], flags) is None
    assert switch_given_value(["run", "--show", "0"], frozenset(["--show"])) is None   # camera 0
