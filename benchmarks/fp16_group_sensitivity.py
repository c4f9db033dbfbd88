"""FP16 sensitivity per layer group (issue 13): which group, kept in FP32, removes FP16's score-peak flips?

Open loop on the validation set: every graph is fed the FP32 tracker's own crops (nothing compounds), and a flip is
a crop whose windowed score peak differs from FP32's. Each FP16 graph keeps one group (or a few) in FP32 with
`--keep-fp32` patterns; if no group stands out, a per-group FP16 precision search cannot reach the 1 % target.

    OMP_NUM_THREADS=1 python benchmarks/fp16_group_sensitivity.py --work out/precision_targets/<sha12> \
        --out benchmarks/results/fp16_groups_v12
(`--work`: a precision_targets.py folder: its model.onnx and .auto_precision/val_synth_s1_80x60.)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from precision_targets import crop_differences


def groups(depth: int) -> dict[str, list[str]]:
    """Kept-in-FP32 variants: none, the patch embedding, the head, each block, the first two, the last two + head."""
    out = {"none": [], "patch_embed": ["/patch_embed/"], "head": ["/box_head/"]}
    out.update({f"block{b}": [f"/blocks.{b}/"] for b in range(depth)})
    out["block0-1"] = ["/blocks.0/", "/blocks.1/"]
    out[f"block{depth - 2}-{depth - 1}+head"] = [f"/blocks.{depth - 2}/", f"/blocks.{depth - 1}/", "/box_head/"]
    return out


def main() -> None:
    from droptrack.artifact import atomic_write_text
    from droptrack.data import get_sequences
    from droptrack.export.onnx import read_metadata
    from droptrack.export.precision import convert_fp16

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--val", default="val_synth_s1_80x60")
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--sequences", type=int, default=None, help="only the first N validation sequences")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    fp32 = a.work / "model.onnx"
    meta = read_metadata(fp32)
    val = get_sequences("synth", a.work / ".auto_precision" / a.val, split="val")[:a.sequences]
    graphs = {}
    for name, patterns in groups(a.depth).items():
        graphs[name] = a.work / f"fp16_keep_{name}.onnx"
        if not graphs[name].is_file():
            convert_fp16(fp32, graphs[name], meta, keep_fp32=patterns)
    t = time.perf_counter()
    res = crop_differences(fp32, graphs, val, meta.search_size)
    rows = {k: {"flips": v["flips"], "crops": int(v["diff"].size), "box_diff_px_p99": float(np.percentile(v["diff"], 99)),
                "score_err_median": float(np.median(v["score_err"]))} for k, v in res.items()}
    a.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(a.out / "summary.json", json.dumps({"validation": a.val, "seconds": time.perf_counter() - t,
                                                           "rows": rows}, indent=1))
    lines = ["| kept in FP32 | score-peak flips | box difference p99 (px) | score error median |", "|---|---|---|---|"]
    lines += [f"| {k} | {v['flips']} of {v['crops']} | {v['box_diff_px_p99']:.3f} | {v['score_err_median']:.2e} |"
              for k, v in rows.items()]
    atomic_write_text(a.out / "table.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
