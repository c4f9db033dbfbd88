"""FP16 graph vs PyTorch on the 4 real photo pairs: CE token agreement and end-to-end decoded-box IoU.

    python benchmarks/fp16_parity.py [--config vitb_256_mae_ce_32x4_ep300] [--seed 0] [--model CKPT]

Exports a random-weight model of the config (or the checkpoint given by --model) (FP32 + FP16 graphs, `export_all`) and prints each graph's parity
entry: max abs error (CE-aligned), CE tokens kept in common with PyTorch per pair, and the IoU of the decoded
boxes against unconstrained PyTorch per pair. Results: results/fp16_parity_cpu.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from droptrack.errors import run_script

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    """Export and print the parity of the FP32 and FP16 graphs."""
    import torch

    from droptrack.config import load_config
    from droptrack.export.pipeline import export_all
    from droptrack.model import build_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="vitb_256_mae_ce_32x4_ep300")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None, help="checkpoint to export instead of a random-weight --config model")
    a = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="dt-fp16-parity-"))
    t0 = time.time()
    if a.model:
        export_all(a.model, output_dir=out, precisions=["fp16"], strict=False)
    else:
        torch.manual_seed(a.seed)
        cfg = load_config(a.config)
        export_all(model=build_model(cfg).eval(), cfg=cfg, output_dir=out, precisions=["fp16"], strict=False)
    for name, v in json.loads((out / "parity.json").read_text())["artifacts"].items():
        print(f"{name}: passed {v['passed']}, max abs {v['max_abs']:.2e}, CE tokens "
              f"{[round(x, 4) for x in v['ce_token_agreement']]}, e2e box IoU "
              f"{[round(b['iou'], 3) for b in v['e2e_boxes']]}")
    print(f"{a.model or f'{a.config} seed {a.seed}'}: {time.time() - t0:.0f} s")


if __name__ == "__main__":
    run_script(main)
