"""`dt bench --reference CKPT` loads the reference once to check it before any work, then again for its row: an
official file's note ('holds no config; inferred vitb_384_...') was printed twice. The check's load says nothing; the
row's load says it once."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from droptrack.eval import bench_reference


def test_the_check_of_the_reference_logs_nothing_and_restores_the_level(tiny_ckpt, monkeypatch, caplog):
    import droptrack.runtime.tracker as tracker

    real = tracker.load_backend

    def noting(*a, **k):   # as load_tracking_checkpoint does for an official file without its config
        logging.getLogger("droptrack").warning("note: 'x.pth.tar' holds no config; inferred ...")
        return real(*a, **k)

    monkeypatch.setattr(tracker, "load_backend", noting)
    opts = SimpleNamespace(config=None, device="cpu", trust_for=lambda p: False)
    log = logging.getLogger("droptrack")
    before = log.level
    with caplog.at_level(logging.WARNING, logger="droptrack"):
        ref = bench_reference.checked_reference(str(tiny_ckpt), opts)
    assert ref.artifact == str(tiny_ckpt) and not [r for r in caplog.records if "holds no config" in r.message]
    assert log.level == before
