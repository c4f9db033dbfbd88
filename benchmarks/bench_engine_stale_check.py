"""What loading a TensorRT engine costs before TensorRT runs, this tree vs an older one: the stale-graph check.

`TensorRTBackend(engine)` reads the sidecar, checks the plan's size and whether the ONNX graph beside the engine is
still the one it was built from, then hands the plan to TensorRT. The older tree hashed the whole graph there on
every load (~350 MB for ViT-B 256-CE); this one trusts the graph's file stamp recorded at the build and hashes only
when it differs. Measured on a machine without TensorRT: the call is timed up to its refusal at the TensorRT step
(`cannot run ...: TensorRT is not installed`), i.e. everything of a load that happens before TensorRT.

The graph: a random-weight ViT-B 256-CE FP32 graph as `dt export` writes it (`--graph` to time another). The engine:
a stand-in plan file with a sidecar as `build_engine` writes it (the graph's sha256 and file stamp, the plan's size).
Each measurement is a fresh child process on one tree (`PYTHONPATH=TREE`), timing one call, as one `dt bench` row or
eval worker loads its engine; the trees alternate within every round. `warm`: the graph in the page cache; `cold`:
the graph dropped from the page cache first (posix_fadvise DONTNEED; a clean file's pages go, no root needed).
A third case, `touched`, changes the graph's mtime (same bytes, page cache warm): both trees hash it and accept it.
Writes benchmarks/results/engine_stale_check_cpu.{json,md}. Usage:
    nice -n 10 python benchmarks/bench_engine_stale_check.py --old OLD_TREE [--graph MODEL.onnx] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
TREE = Path(__file__).resolve().parent.parent
CHILD = """
import sys, time
from droptrack.engine.tensorrt_backend import TensorRTBackend
from droptrack.errors import BackendError
t0 = time.perf_counter()
try:
    TensorRTBackend(sys.argv[1])
    raise SystemExit("loaded: a TensorRT machine; this script measures the part before TensorRT")
except BackendError as exc:
    took = time.perf_counter() - t0
    if "is stale:" in str(exc) or "cannot run" not in str(exc):
        raise SystemExit(f"unexpected refusal: {exc}")
print(took)
"""


def export_graph(folder: Path) -> Path:
    """A random-weight ViT-B 256-CE FP32 graph, exported and verified as `dt export` does."""
    import torch

    from droptrack.config import load_config
    from droptrack.export.pipeline import export_onnx, load_source
    from droptrack.model import build_model

    torch.manual_seed(0)
    cfg = load_config("vitb_256_mae_ce_32x4_ep300")
    src = load_source(model=build_model(cfg).eval(), cfg=cfg)
    result = export_onnx(output_dir=folder, source=src)
    if not result.ok:
        raise SystemExit(f"the export failed its parity check: {result.path}")
    return result.path


def stand_in_engine(graph: Path) -> Path:
    """`<graph>.engine` (a plan's stand-in bytes) with the sidecar build_engine writes: sha256 + stamp of the graph."""
    from droptrack.artifact import atomic_write_json
    from droptrack.engine.graph_stamp import hashed_with_stamp
    from droptrack.engine.tensorrt_backend import sidecar_path
    from droptrack.export.onnx import read_metadata
    from droptrack.export.tensorrt import SIDECAR_FORMAT, rebuild_command

    engine = graph.with_suffix(".engine")
    engine.write_bytes(b"\0" * (1 << 20))
    sha, stamp = hashed_with_stamp(graph)
    env = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "560.35", "gpu": "stand-in", "compute_capability": "9.0"}
    atomic_write_json(sidecar_path(engine), {
        "format": SIDECAR_FORMAT, "env": env, "precision": "fp32", "onnx": graph.name, "onnx_sha256": sha,
        "onnx_stamp": stamp, "meta": read_metadata(graph).to_dict(), "plan_bytes": engine.stat().st_size,
        "rebuild_command": rebuild_command(graph, 4.0, "strong")})
    return engine


def drop_cache(path: Path) -> None:
    """Evict a clean file's pages from the page cache (the next read comes from the disk)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_through(path: Path) -> None:
    """Read the file once, so that its pages are in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def one_load(tree: Path, engine: Path) -> float:
    """Seconds of one TensorRTBackend(engine) call up to the TensorRT step, in a fresh process on `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(engine)], cwd=tempfile.gettempdir(), env=env,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"child on {tree} failed: {out.stderr.strip()[-400:] or out.stdout.strip()[-400:]}")
    return float(out.stdout.split()[-1])


def main(argv: list[str] | None = None) -> None:
    from droptrack.eval.machine import benchmark_machine, machine_line

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True, help="source tree of the older droptrack (its folder holding droptrack/)")
    p.add_argument("--graph", help="time this ONNX graph (default: export a random ViT-B 256-CE one)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    trees = {"old": Path(args.old).resolve(), "new": TREE}
    with tempfile.TemporaryDirectory(prefix="dt-stale-check-") as tmp:
        graph = Path(args.graph).resolve() if args.graph else export_graph(Path(tmp) / "export")
        if args.graph:   # its own folder stays untouched: a copy, with the stand-in engine beside it
            copy = Path(tmp) / graph.name
            copy.write_bytes(graph.read_bytes())
            graph = copy
        times: dict[str, dict[str, list[float]]] = {c: {"old": [], "new": []} for c in ("warm", "cold", "touched")}
        for rnd in range(args.rounds):
            for name in (("old", "new") if rnd % 2 == 0 else ("new", "old")):
                engine = stand_in_engine(graph)   # the stamp of the graph as it is now (the last round touched it)
                one_load(trees[name], engine)   # page cache warm
                times["warm"][name].append(one_load(trees[name], engine))
                drop_cache(graph)
                times["cold"][name].append(one_load(trees[name], engine))
                read_through(graph)   # warm for both trees (the new one did not read it in the cold case)
                st = graph.stat()
                os.utime(graph, ns=(st.st_atime_ns, st.st_mtime_ns + 1))   # same bytes, another stamp
                times["touched"][name].append(one_load(trees[name], engine))
                print(f"round {rnd + 1} {name}: " + ", ".join(f"{c} {times[c][name][-1] * 1000:.1f} ms"
                                                              for c in times), flush=True)
        size_mb = graph.stat().st_size / 1e6
    rows = {c: {k: statistics.median(v) for k, v in t.items()} for c, t in times.items()}
    machine = benchmark_machine()
    commit = subprocess.run(["git", "-C", str(TREE), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    command = "nice -n 10 python benchmarks/bench_engine_stale_check.py --old OLD_TREE" + (
        " --graph GRAPH" if args.graph else "") + f" --rounds {args.rounds}"
    report = {"command": command, "graph_mb": round(size_mb, 1), "rounds": args.rounds, "new_commit": commit,
              "seconds": times, "median_s": rows, "machine": machine}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine_stale_check_cpu.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"# Engine load before TensorRT: the stale-graph check ({size_mb:.0f} MB graph)", "",
             f"Command: `{command}` (OLD_TREE: the tree before the stamp; HEAD {commit}).",
             f"Machine: {machine_line(machine)}; load average {machine.get('loadavg_1m')} (1 min, at the end).",
             f"Each number: median of {args.rounds} fresh processes, one `TensorRTBackend(engine)` call each, up to "
             "the TensorRT step (no TensorRT here).", "",
             "| case | old ms | new ms | new / old |", "|---|---|---|---|"]
    for c, r in rows.items():
        lines.append(f"| {c} | {r['old'] * 1000:.1f} | {r['new'] * 1000:.1f} | {r['new'] / r['old']:.3f} |")
    lines += ["", "warm: graph in the page cache; cold: graph evicted first (posix_fadvise DONTNEED); touched: the "
              "graph's mtime changed, same bytes, in the page cache (both trees hash it and accept it)."]
    (out / "engine_stale_check_cpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
