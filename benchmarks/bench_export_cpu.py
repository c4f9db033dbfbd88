"""CPU latency of PyTorch eager vs ONNX Runtime FP32 / FP16 / INT8 for the ViT-B 256-CE and 384-CE trackers.

Random weights (the graphs are what `dt export` writes: FP32 verified against PyTorch, FP16 with FP32
islands, INT8 explicit Q/DQ calibrated on 16 synthetic tracking pairs). One real-photo input pair, batch 1,
same process; the backends are timed round-robin (one call each per round) so they share the same
background load; median of N rounds after warm-up. The machine's 1-minute load average is recorded
before and after each model, because other jobs share these cores.

    python benchmarks/bench_export_cpu.py [--runs-256 30] [--runs-384 20] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from droptrack.eval.machine import benchmark_machine
from droptrack.errors import run_script

CONFIGS = {"256-CE": "vitb_256_mae_ce_32x4_ep300", "384-CE": "vitb_384_mae_ce_32x4_ep300"}
TARGETS = {"ort_fp32": 1.5, "ort_int8": 2.5}


def export_variants(name: str, cfg_name: str, folder: Path) -> tuple[object, dict, dict]:
    """Model + {variant: onnx path} + notes (parity of each graph)."""
    from droptrack.config import load_config
    from droptrack.export.pipeline import export_fp16, export_int8, export_onnx, load_source
    from droptrack.model import build_model

    torch.manual_seed(0)
    cfg = load_config(cfg_name)
    model = build_model(cfg).eval()
    src = load_source(model=model, cfg=cfg)
    t0 = time.perf_counter()
    fp32 = export_onnx(output_dir=folder, source=src)
    t_fp32 = time.perf_counter() - t0
    fp16 = export_fp16(fp32.path, src)
    t0 = time.perf_counter()
    int8 = export_int8(fp32.path, src, calib="synth", calib_pairs=16)
    t_int8 = time.perf_counter() - t0
    notes = {}
    for r in (fp32, fp16, int8):
        p = r.parity
        notes[r.precision] = {"status": r.status, "size_mb": round(r.size_mb, 1), "max_abs": p.max_abs,
                              "cosine": p.cosine, "box_agreement": p.box_agreement,
                              "e2e_box_agreement": p.e2e_box_agreement, "ce_token_agreement": p.token_agreement}
    notes["export_s"] = {"fp32": round(t_fp32, 1), "int8_quantize": round(t_int8, 1)}
    paths = {"ort_fp32": fp32.path, "ort_fp16": fp16.path, "ort_int8": int8.path}
    return (model, src.pairs[0]), paths, notes


def time_round_robin(fns: dict, runs: int, warmup: int = 3) -> dict[str, list[float]]:
    """Call each fn once per round; per-fn latencies in ms."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - t0) * 1000)
    return times


def bench_model(label: str, cfg_name: str, runs: int, folder: Path) -> dict:
    from droptrack.export.ce_parity import ort_session

    (model, pair), paths, notes = export_variants(label, cfg_name, folder / label)
    z, x = torch.from_numpy(pair.template), torch.from_numpy(pair.search)
    feed = {"template": pair.template, "search": pair.search}
    sessions = {k: ort_session(p) for k, p in paths.items()}

    def eager():
        with torch.inference_mode():
            model(z, x, ce_template_mask=model.template_index)

    fns = {"torch_eager": eager}
    fns.update({k: (lambda s=s: s.run(None, feed)) for k, s in sessions.items()})
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    times = time_round_robin(fns, runs)
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()[0]
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"config": cfg_name, "runs": runs, "median_ms": med,
            "min_ms": {k: min(v) for k, v in times.items()},
            "speedup_vs_eager": {k: med["torch_eager"] / v for k, v in med.items() if k != "torch_eager"},
            "loadavg_1m_before": round(load_before, 2), "loadavg_1m_after": round(load_after, 2),
            "timing_wall_s": round(wall, 1), "graphs": notes}


def write_markdown(res: dict, path: Path) -> None:
    lines = ["# CPU latency: PyTorch eager vs ONNX Runtime FP32 / FP16 / INT8 (dt export graphs)", "",
             f"Recorded {res['date']} by `benchmarks/bench_export_cpu.py`. Machine: {res['machine']['cpu']}, "
             f"{res['machine']['cores']} cores, torch threads {res['machine']['torch_threads']}, ORT intra-op threads "
             f"= cores; torch {res['machine']['torch']}, onnxruntime {res['machine']['onnxruntime']}. Random "
             "weights, batch 1, one real-photo pair, backends timed round-robin in one process, median after 3 "
             "warm-up rounds.", "",
             "**Contended machine:** a training job and other engineers' tests shared these 2 cores; the 1-minute "
             "load average before/after each model is listed. Absolute numbers are inflated and noisy; the "
             "ratios are more meaningful because every backend saw the same load (round-robin).", "",
             "| model | runs | load before/after | eager ms | ORT FP32 ms | ORT FP16 ms | ORT INT8 ms | FP32 x | "
             "FP16 x | INT8 x |", "|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in res["models"].items():
        m, s = r["median_ms"], r["speedup_vs_eager"]
        lines.append(f"| ViT-B {label} | {r['runs']} | {r['loadavg_1m_before']} / {r['loadavg_1m_after']} | "
                     f"{m['torch_eager']:.0f} | {m['ort_fp32']:.0f} | {m['ort_fp16']:.0f} | {m['ort_int8']:.0f} | "
                     f"{s['ort_fp32']:.2f} | {s['ort_fp16']:.2f} | {s['ort_int8']:.2f} |")
    lines += ["", f"Targets: ORT FP32 >= {TARGETS['ort_fp32']}x eager, INT8 >= {TARGETS['ort_int8']}x eager FP32.", "",
              "Graph checks (vs PyTorch on 4 real photo pairs; FP16/INT8 errors CE-aligned, see parity.py):", "",
              "| model | graph | size MB | max abs | cosine | box agreement | e2e boxes | CE tokens |",
              "|---|---|---|---|---|---|---|---|"]
    for label, r in res["models"].items():
        for prec in ("fp32", "fp16", "int8"):
            g = r["graphs"][prec]
            lines.append(f"| {label} | {prec} ({g['status']}) | {g['size_mb']} | {g['max_abs']:.1e} | "
                         f"{g['cosine']:.6f} | {g['box_agreement']:.0%} | {g['e2e_box_agreement']:.0%} | "
                         f"{g['ce_token_agreement']:.0%} |")
    lines += ["", "## What limits the speedups", ""] + [f"- {n}" for n in res["analysis"]]
    path.write_text("\n".join(lines) + "\n")


ANALYSIS = [
    "PyTorch eager on CPU already runs the ViT's big GEMMs through oneDNN/MKL; ORT FP32 saves the Python/dispatch "
    "overhead and fuses LayerNorm/GELU/MatMul+Add, but the GEMM FLOPs are the same, so FP32 gains are modest on "
    "2 cores (packages.md measured 1.2-1.4x uncontended).",
    "ORT's CPU attention fusion does not match the fused-qkv + reshape/permute pattern, and CE's TopK/Gather/"
    "Scatter run as separate small kernels, so attention is unfused.",
    "INT8: only MatMul/Gemm/Conv are quantized; the patch embedding, the CENTER head convs and the attention "
    "MatMuls stay FP32 (accuracy), and every Q/DQ pair around a Gemm costs a (de)quantize pass over the "
    "activations; symmetric S8S8 (TensorRT-compatible) is ~10% slower on x86 than U8S8 (packages.md).",
    "FP16 graphs give no CPU speedup: ORT CPU inserts Casts and runs most ops in FP32; FP16 is for GPUs/TensorRT "
    "and halves the file size.",
    "Contention: with 2 cores shared with training, multi-threaded eager PyTorch degrades more than ORT "
    "(packages.md section 6); load averages are recorded next to each row. The ratios above were taken at load "
    "~5 and overstate the uncontended speedup: packages.md's uncontended runs of the same kind of graphs gave "
    "256-CE 320 -> 268 ms FP32 (1.19x) and 170 ms INT8 U8S8 (1.88x), 384-CE 763 -> 642 ms (1.19x) and 432 ms "
    "(1.77x), i.e. below both targets on an idle machine.",
    "INT8 accuracy on random weights: CE keeps 53-60% of PyTorch's tokens (near-uniform attention ties), so "
    "end-to-end boxes agree on 3 of 4 pairs; with the graph's own CE choices the boxes agree on all pairs.",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs-256", type=int, default=30)
    ap.add_argument("--runs-384", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--markdown-only", action="store_true", help="Rewrite export_cpu.md from export_cpu.json.")
    args = ap.parse_args()
    if args.markdown_only:
        res = json.loads((args.out / "export_cpu.json").read_text())
        res["analysis"] = ANALYSIS
        (args.out / "export_cpu.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
        write_markdown(res, args.out / "export_cpu.md")
        return
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": benchmark_machine(ort_intra_op_threads="default (= cores)"), "models": {}, "targets": TARGETS,
           "analysis": ANALYSIS}
    with tempfile.TemporaryDirectory(prefix="dt-bench-export-") as tmp:
        for label, runs in (("256-CE", args.runs_256), ("384-CE", args.runs_384)):
            res["models"][label] = bench_model(label, CONFIGS[label], runs, Path(tmp))
            print(label, json.dumps(res["models"][label]["median_ms"]), flush=True)
    res["machine"]["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "export_cpu.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    write_markdown(res, args.out / "export_cpu.md")
    print((args.out / "export_cpu.md").read_text())


if __name__ == "__main__":
    run_script(main)
