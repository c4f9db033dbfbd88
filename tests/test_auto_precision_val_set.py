"""dt export --auto-precision --val SET: a set too small for the limit names the fix that applies to a --val set
(not --val-sequences, which only sizes the synthetic set), and --val-sequences given with --val is refused."""

from __future__ import annotations

import pytest

from droptrack.errors import ExportError
from droptrack.export.auto_precision import Int8Options, check_val_size


def test_small_val_set_names_its_own_fix():
    with pytest.raises(ExportError) as exc:
        check_val_size(1, 0.5, "clips/")
    msg = str(exc.value)
    assert "got 1 in --val clips/" in msg and "give --val a set of 2+ sequences" in msg
    assert "--val-sequences" not in msg


def test_small_synthetic_set_names_val_sequences():
    with pytest.raises(ExportError, match="got 1: pass --val-sequences 34"):
        check_val_size(1, 0.03)


def test_val_sequences_with_val_refused():
    opts = Int8Options(auto_precision=True, val="clips/", val_sequences=50)
    with pytest.raises(ExportError, match="--val-sequences sizes the synthetic validation set"):
        opts.check()
