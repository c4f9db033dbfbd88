"""Entropy calibration's threshold search: droptrack.export.kl_threshold against ONNX Runtime's get_entropy_threshold.

The histograms are the ones `dt export --int8 --calib-method entropy` hands over: ORT's HistogramCollector
(symmetric, 2048 bins) filled with the activations of the tiny test model's FP32 graph (the inputs and outputs of
its MatMul / Gemm / Conv nodes) on random crops. Interleaved rounds on one thread, median seconds for all tensors,
and whether every threshold is identical. Writes benchmarks/results/kl_threshold.{json,md}. Usage:
    OMP_NUM_THREADS=1 python benchmarks/bench_kl_threshold.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def histograms(tmp: Path) -> tuple[object, dict]:
    """ORT's collector and its histograms of the tiny model's quantizable tensors on 8 random input pairs."""
    import onnx
    import torch
    from onnxruntime.quantization.calibrate import CalibrationDataReader, CalibrationMethod, create_calibrator

    from droptrack.config import load_config
    from droptrack.export.pipeline import export_onnx
    from droptrack.model import build_model

    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    path = export_onnx(model=build_model(cfg).eval(), cfg=cfg, output_dir=tmp / "onnx").path
    inputs = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in onnx.load(str(path)).graph.input}
    rng = np.random.default_rng(0)
    feeds = iter([{k: rng.random(v).astype(np.float32) for k, v in inputs.items()} for _ in range(8)])

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(feeds, None)

    calibrator = create_calibrator(str(path), ["MatMul", "Gemm", "Conv"], augmented_model_path=str(tmp / "aug.onnx"),
                                   calibrate_method=CalibrationMethod.Entropy, providers=["CPUExecutionProvider"],
                                   extra_options={"num_bins": 2048, "symmetric": True, "num_quantized_bins": 128})
    calibrator.collect_data(Reader())
    return calibrator.collector, calibrator.collector.histogram_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from droptrack.eval.machine import benchmark_machine, machine_line
    from droptrack.export.kl_threshold import kl_thresholds

    with tempfile.TemporaryDirectory() as tmp:
        collector, hists = histograms(Path(tmp))
    times: dict[str, list[float]] = {"droptrack": [], "onnxruntime": []}
    same = True
    for _ in range(args.rounds):
        t = time.perf_counter()
        ours = kl_thresholds(hists, 128)
        times["droptrack"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ref = {k: collector.get_entropy_threshold(h, 128) for k, h in hists.items()}
        times["onnxruntime"].append(time.perf_counter() - t)
        same &= all((ours[k][0], ours[k][1]) == (ref[k][0], ref[k][1]) for k in ref)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {"tensors": len(hists), "bins": 2048, "quantized_bins": 128, "rounds": args.rounds,
              "median_s": med, "speedup": med["onnxruntime"] / med["droptrack"], "identical": bool(same),
              "machine": benchmark_machine(),
              "command": f"OMP_NUM_THREADS=1 python benchmarks/bench_kl_threshold.py --rounds {args.rounds}"}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "kl_threshold.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "kl_threshold.md").write_text(
        f"# Entropy calibration thresholds: droptrack vs ONNX Runtime (1 thread, median of {args.rounds} "
        "interleaved rounds)\n\n"
        f"`{result['command']}`\n\n{machine_line(result['machine'])}, numpy {np.__version__}\n\n"
        "| tensors | bins | droptrack s | onnxruntime s | speed-up | thresholds identical |\n"
        "|---|---|---|---|---|---|\n"
        f"| {len(hists)} | 2048 | {med['droptrack']:.2f} | {med['onnxruntime']:.2f} | {result['speedup']:.1f}x | "
        f"{'yes' if same else 'NO'} |\n")
    print((RESULTS / "kl_threshold.md").read_text())


if __name__ == "__main__":
    main()
