"""benchmarks/int8_kept_sets.py names each cached graph after its kept groups; version 15's 20-group candidate
once made a cache file name over 255 bytes and stopped the run (OSError 36)."""

from __future__ import annotations

from helpers import benchmark_module

GROUPS = [f"block{b}.{k}" for b in range(8) for k in ("qkv", "proj", "mlp")]   # the embedded model's 24


def test_every_cache_file_name_fits_a_file_system(tmp_path):
    stem = benchmark_module("int8_kept_sets").graph_stem
    for n in range(len(GROUPS) + 1):
        name = f".boxes_{stem(tuple(GROUPS[:n]))}_issue11_val10_avx2.npz.abcdefgh.tmp"   # atomic_savez's temp
        assert len(name.encode()) <= 255, n
        (tmp_path / name).write_bytes(b"")          # the file system takes it (Linux: 255 bytes a name)


def test_names_tell_sets_apart_and_ignore_order():
    stem = benchmark_module("int8_kept_sets").graph_stem
    short, long_ = tuple(GROUPS[:3]), tuple(GROUPS[:20])
    assert stem(short) == "int8_" + "_".join(sorted(short))          # short sets keep their readable names
    assert stem(short[::-1]) == stem(short) and stem(long_[::-1]) == stem(long_)
    assert stem(long_) != stem(tuple(GROUPS[:19])) != stem(tuple(GROUPS[1:20]))
    assert stem(()) == "int8_none"
