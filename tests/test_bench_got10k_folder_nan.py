"""`dt bench --data DIR` of a GOT-10k-layout folder (its list.txt) with a NaN ground-truth row on a frame its
cover.label marks hidden: the GOT-10k toolkit takes it, but the bench's accuracy columns are OSTrack's OPE, which
refuses it. Every row was tracked and then failed (exit 1); now it is refused before any work, saying how one's own
footage is read with NaN as an absent target (without list.txt)."""

from __future__ import annotations

import pytest

pytest.importorskip("cv2")

from tests.helpers import cli, img, text  # noqa: E402


def _got10k(root) -> None:
    text(root / "list.txt", "a\nb\n")
    for name in ("a", "b"):
        rows = ["10,10,20,20"] * 4
        if name == "b":
            rows[2] = "nan,nan,nan,nan"
        text(root / name / "groundtruth.txt", "\n".join(rows) + "\n")
        text(root / name / "cover.label", "8\n8\n0\n8\n" if name == "b" else "8\n" * 4)
        text(root / name / "absence.label", "0\n0\n1\n0\n" if name == "b" else "0\n" * 4)
        for i in range(1, 5):
            img(root / name / f"{i:08d}.jpg", color=(40 * i, 90, 200), size=(64, 48))


def test_a_nan_row_of_a_got10k_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    _got10k(tmp_path / "mine")
    monkeypatch.chdir(tmp_path)
    res = cli("bench", "--tracker", "kcf", "--data", "./mine", "-o", "bench")
    said = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert "b: ground-truth row 2 (frame 2, from 0) has NaN" in said, said
    assert "without list.txt is read as footage, where a NaN row marks an absent target" in said, said
    assert not (tmp_path / "bench" / "results").exists()
    (tmp_path / "mine" / "list.txt").unlink()   # as the advice says: read as one's own footage, NaN = absent
    res = cli("bench", "--tracker", "kcf", "--data", "./mine", "-o", "bench")
    assert res.exit_code == 0, res.output
