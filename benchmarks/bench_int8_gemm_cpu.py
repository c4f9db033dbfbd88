"""The ceiling of issue 13's CPU INT8 target: how much faster ONNX Runtime's dynamic INT8 GEMM is than its FP32 GEMM
on this CPU, on the shapes of one ViT-B block, and what that allows for the whole graph.

    python benchmarks/bench_int8_gemm_cpu.py [--tokens 320] [--runs 60] [--non-gemm-ms 132 --fp32-ms 659]

Each shape (tokens x 768 -> 2304 qkv, 768 -> 768 proj, 768 -> 3072 fc1, 3072 -> 768 fc2) is a one-node FP32 graph
(MatMul + bias) and its `quantize_dynamic` form (S8 weights, the same DynamicQuantizeMatMul that `dt export --int8`
writes for the ORT CPU graph). Both run on 1 thread, interleaved, ORT_ENABLE_ALL; medians. The bound: INT8 changes
only the GEMMs, so with the rest of the FP32 graph's time (`--non-gemm-ms`, from ORT profiling of the INT8 graph)
the best whole-graph speed-up is fp32 / (gemm_fp32 / r + rest), r the GEMM ratio measured here.
Writes benchmarks/results/int8_gemm_cpu.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from droptrack.eval.machine import benchmark_machine, machine_line  # noqa: E402
from droptrack.errors import run_script

OUT = Path(__file__).parent / "results"
SHAPES = (("qkv", 768, 2304), ("proj", 768, 768), ("fc1", 768, 3072), ("fc2", 3072, 768))


def one_gemm(path: Path, m: int, k: int, n: int) -> None:
    """An FP32 graph Y = X @ W + B with constant random W (ViT-like scale)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((k, n)) * 0.02).astype(np.float32), "W")
    b = numpy_helper.from_array(np.zeros(n, np.float32), "B")
    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y0"]), helper.make_node("Add", ["Y0", "B"], ["Y"])]
    g = helper.make_graph(nodes, "gemm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [m, k])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n])], [w, b])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def session(path: Path):
    """1-thread ORT CPU session with every graph optimization (as the runtime uses)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def measure(tokens: int, runs: int, folder: Path) -> dict:
    """Median ms of each shape in FP32 and dynamic INT8, timed alternately."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = {}
    for name, k, n in SHAPES:
        fp32, int8 = folder / f"{name}.onnx", folder / f"{name}_int8.onnx"
        one_gemm(fp32, tokens, k, n)
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        s32, s8 = session(fp32), session(int8)
        x = {"X": np.random.default_rng(1).standard_normal((tokens, k)).astype(np.float32)}
        for s in (s32, s8):
            for _ in range(5):
                s.run(None, x)
        t32, t8 = [], []
        for _ in range(runs):
            t = time.perf_counter()
            s32.run(None, x)
            t32.append(time.perf_counter() - t)
            t = time.perf_counter()
            s8.run(None, x)
            t8.append(time.perf_counter() - t)
        a, b = 1e3 * float(np.median(t32)), 1e3 * float(np.median(t8))
        gop = 2 * tokens * k * n / 1e9
        out[name] = {"fp32_ms": a, "int8_ms": b, "ratio": a / b, "fp32_gflops": gop / a * 1e3, "int8_gops": gop / b * 1e3}
        print(f"{name}: FP32 {a:.2f} ms, INT8 {b:.2f} ms, x{a / b:.2f}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=320, help="rows of each GEMM (ViT-B 256-CE: 64 + 256 tokens)")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--fp32-ms", type=float, default=659.0, help="whole FP32 graph, median ms (results/int8_cpu.md)")
    ap.add_argument("--non-gemm-ms", type=float, default=132.0,
                    help="time of everything but DynamicQuantizeMatMul in the INT8 graph (30.5 %% of 434 ms by ORT "
                         "profiling, results/int8_cpu.md); INT8 leaves it as it is in FP32")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shapes = measure(args.tokens, args.runs, Path(tmp))
    g32 = sum(v["fp32_ms"] for v in shapes.values())
    g8 = sum(v["int8_ms"] for v in shapes.values())
    ratio = g32 / g8
    gemm_fp32 = args.fp32_ms - args.non_gemm_ms
    bound = args.fp32_ms / (gemm_fp32 / ratio + args.non_gemm_ms)
    rest_for_target = args.fp32_ms / 1.6 - gemm_fp32 / ratio
    machine = benchmark_machine()
    res = {"machine": machine, "tokens": args.tokens, "runs": args.runs, "shapes": shapes, "block_gemm_ratio": ratio,
           "fp32_ms": args.fp32_ms, "non_gemm_ms": args.non_gemm_ms, "whole_graph_bound": bound,
           "non_gemm_ms_for_1_6x": rest_for_target}
    cmd = (f"python benchmarks/bench_int8_gemm_cpu.py --tokens {args.tokens} --runs {args.runs} --fp32-ms "
           f"{args.fp32_ms:g} --non-gemm-ms {args.non_gemm_ms:g}")
    md = ["# CPU INT8 ceiling: ONNX Runtime dynamic INT8 GEMM vs FP32 GEMM (ViT-B block shapes, 1 thread)", "",
          f"`{cmd}`; {machine_line(machine)}", "",
          "| GEMM | FP32 ms | INT8 ms | FP32 / INT8 | FP32 GFLOP/s | INT8 GOP/s |", "|---|---|---|---|---|---|"]
    md += [f"| {k} ({args.tokens} x {kk} -> {n}) | {v['fp32_ms']:.2f} | {v['int8_ms']:.2f} | {v['ratio']:.2f} | "
           f"{v['fp32_gflops']:.0f} | {v['int8_gops']:.0f} |"
           for (k, kk, n), v in zip(SHAPES, shapes.values())]
    md += ["", f"One block's GEMMs: FP32 {g32:.1f} ms, INT8 {g8:.1f} ms: **x{ratio:.2f}**.", "",
           f"Whole ViT-B 256-CE graph: FP32 {args.fp32_ms:g} ms, of which {args.non_gemm_ms:g} ms is not a quantized "
           f"GEMM in the INT8 graph (head convolutions, attention products, GELU, softmax, LayerNorm, quantization "
           f"glue; ORT profiling). With the GEMMs x{ratio:.2f} faster and the rest costing the same in both graphs (a "
           f"model: the FP32 graph has no quantization glue, so its rest is a little smaller), the INT8 graph runs at "
           f"about "
           f"**x{bound:.2f}** the FP32 graph (measured: x1.52-1.60). The 1.6x target needs the rest cut to "
           f"{rest_for_target:.0f} ms ({100 * (1 - rest_for_target / args.non_gemm_ms):.0f} % less), which INT8 "
           "quantization of the GEMMs cannot do."]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "int8_gemm_cpu.json").write_text(json.dumps(res, indent=1))
    (args.out / "int8_gemm_cpu.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    run_script(main)
