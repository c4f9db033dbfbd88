"""dt analyze -o into a folder holding a report.json or a plot of its names (success.png, ...) that no dt analyze
wrote replaced that file without a word; it is now refused before any work, while a rerun into its own folder, also
one a killed run left with plots but no report.json yet, goes ahead."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.data.synth import generate_synth
from droptrack.eval.results import write_result
from tests.helpers import cli, one_line_error


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("foreign")
    root = generate_synth(tmp / "set", sequences=2, frames=4, seed=1, size=(96, 72))
    for seq in sorted(p for p in root.iterdir() if p.is_dir()):
        gt = np.loadtxt(seq / "groundtruth.txt", delimiter=",")
        write_result(tmp / "res" / "t" / f"{seq.name}.txt", gt)
    return root, tmp / "res" / "t"


def _analyze(data, out):
    root, res = data
    return cli("analyze", res, "--dataset", "synth", "--root", root, "-o", out)


@pytest.mark.parametrize("name, content", [("success.png", b"\x89PNG\r\n\x1a\nmy own figure"),
                                           ("report.json", b'{"experiment": "mine"}\n'),
                                           ("report.json", b"[" * 100000)])   # nested past Python's recursion limit
def test_a_file_dt_analyze_did_not_write_is_refused_and_kept(data, tmp_path, name, content):
    out = tmp_path / "figures"
    out.mkdir()
    (out / name).write_bytes(content)
    line = one_line_error(_analyze(data, out))
    assert f"holds {name}, which dt analyze did not write" in line
    assert (out / name).read_bytes() == content


def test_its_own_folder_is_written_again_also_after_a_killed_run(data, tmp_path):
    out = tmp_path / "an"
    assert _analyze(data, out).exit_code == 0
    assert _analyze(data, out).exit_code == 0            # a rerun
    (out / "report.json").unlink()                        # killed between the plots and report.json
    res = _analyze(data, out)
    assert res.exit_code == 0, res.output
    assert (out / "report.json").is_file()


def test_a_users_figure_beside_an_earlier_report_is_refused_not_replaced_or_removed(data, tmp_path):
    out = tmp_path / "mixed"
    assert _analyze(data, out).exit_code == 0
    drawn = {p.name for p in out.glob("*.png")}
    assert "success.png" in drawn
    mine = b"\x89PNG\r\n\x1a\nmy own figure"
    for name in ("success.png", "attributes_radar.png"):   # one of this run's names, one it would clear away
        (out / name).write_bytes(mine)
        line = one_line_error(_analyze(data, out))   # with dt's report.json there: replaced and deleted silently
        assert f"holds {name}, which dt analyze did not write" in line
        assert (out / name).read_bytes() == mine
        (out / name).unlink()
