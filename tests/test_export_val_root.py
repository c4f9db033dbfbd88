"""`dt export --int8 --auto-precision --val got10k_val:/data/got10k` was refused as "not ... a dataset name (got10k,
...)", though --calib takes NAME:ROOT and the name was in the list; --val now takes a dataset's root the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from droptrack.export.auto_precision import Int8Options, validation_sequences


@pytest.mark.parametrize("val, expected", [
    ("got10k:/data/got10k", ("got10k", "/data/got10k")),
    ("got10k_val:/data/g", ("got10k_val", "/data/g")),
    ("synth:/data/s", ("synth:/data/s", None)),      # the synthetic set is generated: its root is a cache
    ("got10k", ("got10k", None)),
    ("clips/a:b", ("clips/a:b", None)),               # not a dataset name before the colon
])
def test_val_source(val, expected):
    from droptrack.export.auto_precision import val_source

    assert val_source(val) == expected


def _got10k_root(tmp_path: Path) -> Path:
    """A GOT-10k root whose val split holds 2 sequences of 4 frames (the synthetic set is written in its layout)."""
    from droptrack.data.synth import ensure_synth

    ensure_synth(tmp_path / "g" / "val", 2, 4, 1, (160, 120), split="val")
    names = sorted(p.name for p in (tmp_path / "g" / "val").iterdir() if p.is_dir())
    (tmp_path / "g" / "val" / "list.txt").write_text("\n".join(names) + "\n")
    return tmp_path / "g"


def test_val_dataset_with_root_is_read(tmp_path):
    root = _got10k_root(tmp_path)
    options = Int8Options(auto_precision=True, val=f"got10k_val:{root}", max_divergence=0.5)
    options.check()
    sequences, text = validation_sequences(options, tmp_path / "cache")
    assert len(sequences) == 2 and [len(s) for s in sequences] == [4, 4]
    assert text == f"got10k_val:{root}, 2 sequences"


def test_cli_missing_root_names_the_root(tmp_path):
    from helpers import cli, one_line_error

    out = tmp_path / "deploy"
    line = one_line_error(cli("export", "--int8", "--auto-precision", "--max-divergence", "0.5", "--val",
                              f"got10k:{tmp_path / 'nope'}", "-o", out))
    assert f"root {tmp_path / 'nope'}" in line and "does not exist" in line and not out.exists()
