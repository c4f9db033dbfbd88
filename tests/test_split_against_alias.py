"""A dataset alias names its split (got10k_val, got10k_test, lasot_test, ...), and --split overrode it silently:
`dt analyze --dataset got10k_test --split val` scored the val split in a report and table titled got10k_test, and
`dt eval --dataset got10k_val --split test` tracked the test split. A --split other than the alias's own is now
refused in one line (exit 2) naming the dataset and split to pass; the same split, in any case, is accepted."""

import json
from pathlib import Path

from helpers import cli, img, one_line_error, text


def _got10k(root: Path) -> None:
    for split, name, rows in (("val", "GOT-10k_Val_000001", 3), ("test", "GOT-10k_Test_000001", 1)):
        text(root / split / "list.txt", f"{name}\n")
        for i in range(1, 4):
            img(root / split / name / f"{i:08d}.jpg", size=(40, 30))
        text(root / split / name / "groundtruth.txt", "2,2,8,6\n" * rows)


def test_analyze_refuses_a_split_other_than_the_aliases(tmp_path: Path) -> None:
    _got10k(tmp_path / "got")
    text(tmp_path / "res" / "GOT-10k_Val_000001.txt", "2\t2\t8\t6\n" * 3)
    out = cli("analyze", tmp_path / "res", "--dataset", "got10k_test", "--split", "val", "--root", tmp_path / "got",
              "-o", tmp_path / "an")
    assert out.exit_code == 2, out.output
    assert one_line_error(out) == ("error: --split val: --dataset got10k_test is the test split of got10k; pass "
                                   "--dataset got10k --split val, or drop --split")
    assert not (tmp_path / "an").exists()
    out = cli("analyze", tmp_path / "res", "--dataset", "got10k", "--split", "val", "--root", tmp_path / "got",
              "-o", tmp_path / "an")   # the command it names
    assert out.exit_code == 0, out.output
    assert json.loads((tmp_path / "an" / "report.json").read_text())["trackers"][0]["scores"]["ao"] == 1.0
    out = cli("analyze", tmp_path / "res", "--dataset", "got10k_val", "--split", "VAL", "--root", tmp_path / "got",
              "-o", tmp_path / "an2")   # the alias's own split
    assert out.exit_code == 0, out.output


def test_eval_refuses_a_split_other_than_the_aliases(tmp_path: Path) -> None:
    _got10k(tmp_path / "got")
    out = cli("eval", "--dataset", "got10k_val", "--split", "test", "--root", tmp_path / "got", "--tracker", "mosse",
              "-o", tmp_path / "out")
    assert out.exit_code == 2, out.output
    assert "--dataset got10k_val is the val split of got10k; pass --dataset got10k --split test" in out.output
    assert not (tmp_path / "out").exists()
    out = cli("analyze", tmp_path / "res", "--dataset", "lasot_test", "--split", "train", "--root", tmp_path / "lasot",
              "-o", tmp_path / "an")
    assert one_line_error(out) == ("error: --split train: --dataset lasot_test is the test split of lasot; pass "
                                   "--dataset lasot --split train, or drop --split")
