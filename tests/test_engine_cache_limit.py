"""The engine cache (~/.cache/droptrack/tensorrt or $DT_CACHE_DIR) grew by one engine per rebuild (a new graph,
driver or TensorRT), hundreds of MB each for ViT-B, without end; it now keeps at most 5 GB, as Torch-TensorRT's
cache, removing the least recently used first. TensorRT is tests/fake_tensorrt.py (no GPU here)."""

from __future__ import annotations

import os

import pytest

from fake_tensorrt import FakeTRT, install

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tensorrt_here(monkeypatch, tmp_path) -> FakeTRT:
    return install(monkeypatch, tmp_path / "cache")


def _entry(folder, name: str, size: int, age_s: int):
    path = folder / name
    with open(path, "wb") as f:
        f.truncate(size)   # sparse: the size counts, no disk is used
    t = os.stat(path).st_mtime - age_s
    os.utime(path, (t, t))
    return path


def test_a_build_removes_the_least_recently_used_engines_over_5_gb(onnx_model, tmp_path, tensorrt_here):
    from droptrack.export.tensorrt import build_engine

    cache = tmp_path / "cache"
    cache.mkdir()
    oldest = _entry(cache, "a" * 64 + ".engine", 3 << 30, 300)
    recent = _entry(cache, "b" * 64 + ".engine", 2 << 30, 100)
    timing = _entry(cache, "timing-0123456789abcdef.cache", 1 << 30, 400)   # not an engine: kept
    stuck = cache / ("c" * 64 + ".engine")   # a folder by an engine's name: cannot be removed, said in one line
    stuck.mkdir()
    t = os.stat(stuck).st_mtime - 600
    os.utime(stuck, (t, t))
    graph = tmp_path / "model_fp16.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    lines: list[str] = []
    res = build_engine(graph, cache=cache, log=lines.append)
    kept = sorted(p.name for p in cache.iterdir())
    assert not oldest.exists() and recent.exists() and timing.exists(), kept   # 5 GB + 4 bytes -> 2 GB + 4 bytes
    assert f"{res.key}.engine" in kept and stuck.is_dir()
    assert any("1 least recently used engine(s) removed" in n for n in res.notes), res.notes
    warned = [s for s in lines if "warning:" in s]
    assert len(warned) == 1 and stuck.name in warned[0], lines


def test_pruning_never_removes_the_engine_just_written(tmp_path):
    from droptrack.export.tensorrt import prune_cache

    new = _entry(tmp_path, "n.engine", 8, 500)   # oldest by mtime, but the one this build wrote
    old = _entry(tmp_path, "o.engine", 8, 10)
    assert prune_cache(tmp_path, new, limit=10) and new.exists() and not old.exists()
    assert prune_cache(tmp_path, new, limit=10) == [] and new.exists()   # alone over the limit: kept


def test_an_engine_that_cannot_be_removed_frees_nothing_and_the_next_oldest_goes(tmp_path):
    from droptrack.export.tensorrt import prune_cache

    stuck = tmp_path / "s.engine"   # a folder by an engine's name: unlink fails, even as root
    stuck.mkdir()
    (stuck / ("x" * 40)).write_bytes(b"")   # a folder of some size on every file system (btrfs: 0 when empty)
    t = os.stat(stuck).st_mtime - 900
    os.utime(stuck, (t, t))
    if os.stat(stuck).st_size == 0:
        pytest.skip("this file system gives folders no size")
    mid = _entry(tmp_path, "m.engine", 8, 500)
    new = _entry(tmp_path, "n.engine", 8, 10)
    # the cache holds folder + 16 bytes, over the 16-byte limit until the folder goes, which it cannot
    notes = prune_cache(tmp_path, new, limit=16)
    assert stuck.is_dir() and not mid.exists() and new.exists()
    assert any("1 least recently used engine(s) removed" in n for n in notes), notes
    warnings = [n for n in notes if n.startswith("warning:")]
    assert len(warnings) == 1 and "s.engine" in warnings[0] and "\n" not in warnings[0], notes


def test_a_linked_engine_counts_as_its_link_and_its_target_is_never_removed(tmp_path):
    """An engine linked into the cache was counted at its target's size, though removing the link frees only the
    link: engines under the limit were removed for it."""
    from droptrack.export.tensorrt import prune_cache

    cache = tmp_path / "cache"
    cache.mkdir()
    target = _entry(tmp_path, "elsewhere.engine", 1 << 30, 300)   # outside the cache, not the cache's to remove
    old = _entry(cache, "o.engine", 8, 500)
    link = cache / "l.engine"
    link.symlink_to(target)
    new = _entry(cache, "n.engine", 8, 10)
    room = 16 + os.lstat(link).st_size   # the two engines and the link itself: the cache is at its limit
    assert prune_cache(cache, new, limit=room) == []
    assert old.exists() and link.is_symlink() and target.exists()
    assert prune_cache(cache, new, limit=16)   # over by the link alone: the oldest go until the link is gone
    assert not link.is_symlink() and new.exists() and os.path.getsize(target) == 1 << 30
