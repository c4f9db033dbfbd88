"""A file where dt makes a folder, and a file locked against changes: one line naming that file, exit 2, no
traceback (dt eval ended in a NotADirectoryError traceback after tracking every sequence; an immutable report.json
was named by dt's temporary file)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import typer

from helpers import cli, one_line_error


def test_a_file_where_dt_eval_makes_its_submission_folder(synth: Path, tiny_ckpt: Path, tmp_path: Path):
    out = tmp_path / "ev"
    row = out / tiny_ckpt.stem   # the tracker's results folder is named after the checkpoint
    row.mkdir(parents=True)
    (row / "got10k_submit").write_text("mine\n")
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", synth, "-m", tiny_ckpt, "-o", out,
                              "--threads", "1"))
    assert f"'{row / 'got10k_submit'}' is a file where dt makes a folder" in line, line
    assert (row / "got10k_submit").read_text() == "mine\n"


@pytest.mark.parametrize("code, words", [
    (errno.EPERM, ["cannot change", "Operation not permitted", "locked against changes"]),
    (errno.EACCES, ["cannot access", "closed to this user"]),
])
def test_a_refused_rename_names_the_file_it_replaces_not_the_temporary(tmp_path: Path, capsys, code, words):
    from droptrack.cli.app import friendly

    tmp, final = tmp_path / ".report.json.x1y2.tmp", tmp_path / "report.json"

    def replace_refused():   # as os.replace raises it: the temporary first, the target second
        raise PermissionError(code, os.strerror(code), str(tmp), None, str(final))

    with pytest.raises(typer.Exit) as exc:
        friendly(replace_refused)()
    assert exc.value.exit_code == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and f"'{final}'" in line and str(tmp) not in line, line
    for w in words:
        assert w in line, line
