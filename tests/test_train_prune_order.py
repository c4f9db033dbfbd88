"""--keep-last keeps the newest epoch checkpoints by epoch number: past epoch 9999 the names grow a digit, and sorted
by name checkpoint_ep10000.pt came first, so the checkpoint just written was the one deleted."""

from __future__ import annotations

from droptrack.train.state import prune


def test_keep_last_keeps_the_newest_epochs_past_9999(tmp_path):
    for epoch in (9998, 9999, 10000):
        (tmp_path / f"checkpoint_ep{epoch:04d}.pt").write_bytes(b"x")
    (tmp_path / "last.pt").write_bytes(b"x")
    prune(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_ep10000.pt", "checkpoint_ep9999.pt", "last.pt"]
