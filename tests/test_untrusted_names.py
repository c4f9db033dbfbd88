"""Names and text from files of someone else that dt prints or turns into paths: a checkpoint's config name in
`dt doctor`'s lines (rich markup, terminal escape sequences), a GOT-10k list.txt naming folders outside its split.
(tests/test_untrusted_metadata.py: metadata values; tests/test_untrusted_files.py: code and external data.)"""

from __future__ import annotations

import pytest
import torch

from droptrack.data import got10k
from droptrack.errors import DatasetError, printable
from helpers import cli, one_line_error

HOSTILE = "[link=http://evil.example]click[/link]\x1b]0;owned\x07\x1b[2J"


def test_doctor_prints_a_checkpoints_config_name_as_plain_escaped_text(tiny_ckpt, tmp_path):
    obj = torch.load(tiny_ckpt, weights_only=True)
    obj["config_name"] = HOSTILE
    torch.save(obj, tmp_path / "named.pt")
    r = cli("doctor", tmp_path / "named.pt")
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "\x07" not in r.output
    line = next(ln for ln in r.output.splitlines() if ln.startswith("ok: checkpoint "))
    # the markup is shown as the text it is, the escape sequences as \\xNN
    assert "[link=http://evil.example]click[/link]\\x1b]0;owned\\x07\\x1b[2J" in line, line


def _sequence(folder, n: int = 3) -> None:
    """A GOT-10k sequence folder of n black frames and a box per frame."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        cv2.imwrite(str(folder / f"{i:08d}.jpg"), np.zeros((48, 64, 3), np.uint8))
    (folder / "groundtruth.txt").write_text("10,10,20,20\n" * n)


@pytest.mark.parametrize("listed", ["../outside", "{outside}", "..", "a\x1b[2Jb"])
def test_got10k_list_naming_a_folder_outside_its_split_is_one_line(tmp_path, listed):
    root = tmp_path / "got10k"
    _sequence(root / "val" / "GOT-10k_Val_000001")
    _sequence(root / "outside")   # beside the split: what '../outside' or its absolute path reaches
    listed = listed.format(outside=root / "outside")
    (root / "val" / "list.txt").write_text(f"GOT-10k_Val_000001\n{listed}\n")
    with pytest.raises(DatasetError, match="not a sequence folder of that split") as exc:
        got10k.read(root, "val", None)
    assert "list.txt" in str(exc.value) and "\x1b" not in printable(exc.value)
    results = tmp_path / "res"
    results.mkdir()
    (results / "GOT-10k_Val_000001.txt").write_text("10\t10\t20\t20\n" * 3)
    line = one_line_error(cli("analyze", results, "--dataset", "got10k", "--root", root, "--split", "val",
                              "-o", tmp_path / "report"))
    assert "list.txt" in line and "not a sequence folder" in line, line


def test_got10k_list_of_plain_names_still_reads(tmp_path):
    _sequence(tmp_path / "val" / "GOT-10k_Val_000001")
    (tmp_path / "val" / "list.txt").write_text("GOT-10k_Val_000001\n")
    assert [s.name for s in got10k.read(tmp_path, "val", None)] == ["GOT-10k_Val_000001"]
