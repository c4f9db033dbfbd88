"""Two `dt analyze -o OUT` at once wrote their plots and report.json into OUT unlocked, so the folder could end up with
one run's plots beside the other's report.json. dt analyze now writes under OUT's lock file, the one dt eval and
dt bench hold on their output folders (droptrack.filelock: flock on OUT/.lock): while another process holds it, the
run is refused in one line naming the folder and writes nothing; once it is free, the run writes and leaves no lock."""

from __future__ import annotations

import os

import pytest

from tests.helpers import one_line_error
from tests.test_analyze_foreign_files import _analyze, data  # noqa: F401 (data: the fixture of a scored set)

fcntl = pytest.importorskip("fcntl")


def test_a_folder_another_writer_holds_is_refused_in_one_line(data, tmp_path):
    out = tmp_path / "an"
    out.mkdir()
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)   # another writer: flock held on OUT/.lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        line = one_line_error(_analyze(data, out))
        assert "is writing to" in line and str(out) in line and "--output" in line, line
        assert sorted(p.name for p in out.iterdir()) == [".lock"]   # no plot, no report.json
    finally:
        os.close(fd)
    res = _analyze(data, out)   # released: the same command writes
    assert res.exit_code == 0, res.output
    assert (out / "report.json").is_file() and not (out / ".lock").exists()
