"""A quoted '~' (`dt run '~/clip' -o '~/boxes.txt'`, a Windows shell, a config tool) is the home folder for every
path, as an unquoted one is: inputs were read from the home folder, but outputs went into a new folder named '~'
under the current one."""

from __future__ import annotations

from droptrack.cli.app import home_expanded
from helpers import cli, drifting_clip


def test_a_quoted_home_is_the_home_folder_for_inputs_and_outputs(tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    (home / "clip").mkdir(parents=True)
    work.mkdir()
    drifting_clip(home / "clip", 3)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    res = cli("run", "~/clip", "--init", "30,22,26,20", "-o", "~/boxes.txt", "--jsonl=~/track.jsonl")
    assert res.exit_code == 0, res.output
    assert len((home / "boxes.txt").read_text().splitlines()) == 3
    assert (home / "track.jsonl").is_file()
    assert list(work.iterdir()) == []   # no folder named '~' here


def test_only_a_leading_home_is_expanded(monkeypatch):
    monkeypatch.setenv("HOME", "/h")
    assert home_expanded(["~", "~/a", "--root=~/b", "a~/c", "~user", "--keep-fp32", "x~"]) == \
        ["/h", "/h/a", "--root=/h/b", "a~/c", "~user", "--keep-fp32", "x~"]
