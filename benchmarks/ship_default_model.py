"""Turn training checkpoints into the embedded default model (weights + packaged config + meta + training record, no
optimizer state), written atomically to droptrack/weights/droptrack_tiny_synth.pt.

Usage: python benchmarks/ship_default_model.py STAGE1/final.pt [STAGE2/final.pt ...] --data "dt data synth ..." \
           --command "dt train ..." [--command ...] [--selected-by TEXT] [--out PATH]
       python benchmarks/ship_default_model.py --retune   (packaged TEST keys into the shipped model, weights kept)
       python benchmarks/ship_default_model.py --graph    (only the shipped ONNX Runtime graph, from OUT)
Each also writes the shipped ONNX Runtime graph beside OUT (droptrack_tiny_synth_ort.onnx: `dt export OUT --ort`'s
model_ort.onnx, which `dt run` without a model runs on the CPU while its recorded checkpoint sha256 is OUT's).
The last checkpoint gives the weights; every checkpoint gives its per-epoch history (tagged with its stage). A
previously shipped default model may come first: its recorded stages, data and commands are carried over, so a
fine-tuned model keeps the whole record of how its weights came to be.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from droptrack.config import config_to_dict, load_config
from droptrack.config_rules import TRACKER_EXT_RULES
from droptrack.model.checkpoint import load_tracking_checkpoint, save_checkpoint
from droptrack.model.default import DEFAULT_CHECKPOINT, DEFAULT_ORT
from droptrack.errors import InputError, run_script

CONFIG = "droptrack_tiny_synth"


def _inference_sections(cfg) -> tuple[dict, dict]:
    """The MODEL and TEST settings that define the shipped network and its crops (not how it was trained, nor the
    opt-in tracker extensions, which come from the packaged config whatever the training run used)."""
    d = config_to_dict(cfg)
    model = {k: v for k, v in d["MODEL"].items() if k not in ("PRETRAIN_FILE", "VARIANT")}
    return model, {k: v for k, v in d["TEST"].items() if k != "EPOCH" and k not in TRACKER_EXT_RULES}


def retune(path: Path) -> None:
    """Re-save the shipped model with the packaged config's TEST section (tracker settings only; same weights,
    same training record): how tracker-extension keys chosen by benchmarks/tune_tracker_ext.py reach it."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    model, _ = load_tracking_checkpoint(path, config=CONFIG)
    save_checkpoint(path, model, load_config(CONFIG), extra={"training": obj["training"]})
    print(f"wrote {path}: TEST {config_to_dict(load_config(CONFIG))['TEST']}")


def write_graph(path: Path) -> None:
    """`dt export PATH --ort` (its parity checks included), its model_ort.onnx moved in atomically as DEFAULT_ORT."""
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".ship-") as tmp:
        subprocess.run([sys.executable, "-m", "droptrack", "export", str(path), "--ort", "-o", f"{tmp}/x"],
                       check=True)
        os.replace(f"{tmp}/x/model_ort.onnx", path.parent / DEFAULT_ORT)   # the same folder: one rename
    print(f"wrote {path.parent / DEFAULT_ORT}")


def main() -> None:
    """Load the last stage strictly under the packaged config (same MODEL/TEST sections), save fp32 weights."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", type=Path, nargs="*", help="one checkpoint per training stage, in order")
    ap.add_argument("--data", help="the `dt data synth` command(s) that made the training sets")
    ap.add_argument("--command", action="append", help="the `dt train` command(s), in order")
    ap.add_argument("--selected-by", default="last epoch of the last stage")
    ap.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "droptrack" / "weights" / DEFAULT_CHECKPOINT)
    ap.add_argument("--retune", action="store_true", help="only re-save OUT with the packaged TEST section "
                    "(tracker-extension keys); no checkpoints, --data or --command")
    ap.add_argument("--graph", action="store_true", help="only write the ONNX Runtime graph of OUT beside it")
    args = ap.parse_args()
    if args.retune or args.graph:
        if args.retune:
            retune(args.out)
        write_graph(args.out)
        return
    if not args.checkpoints or not args.data or not args.command:
        ap.error("give the stage checkpoints, --data and --command (or --retune)")
    history, data, commands, stage = [], [], [], 0
    for path in args.checkpoints:
        run = torch.load(path, map_location="cpu", weights_only=True)
        if "training" in run:  # a shipped model: its own stages, data and commands come along
            rows = run["training"]["history"]
            history += rows
            stage = max([stage] + [int(r.get("stage", 1)) for r in rows])
            data.append(run["training"]["data"])
            commands += list(run["training"]["commands"])
            continue
        stage += 1
        history += [{**row, "stage": stage} for row in run.get("history", [])]
    _, trained = load_tracking_checkpoint(args.checkpoints[-1])
    packaged = load_config(CONFIG)
    if _inference_sections(trained) != _inference_sections(packaged):
        raise InputError(f"{args.checkpoints[-1]}: its MODEL/TEST sections differ from the packaged {CONFIG}")
    model, cfg = load_tracking_checkpoint(args.checkpoints[-1], config=CONFIG)
    training = {"epochs": len(history), "selected_by": args.selected_by, "history": history,
                "data": "; ".join(data + [args.data]), "commands": commands + list(args.command)}
    save_checkpoint(args.out, model, cfg, extra={"training": training})
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {len(history)} epochs in "
          f"{stage} stage(s))")
    write_graph(args.out)


if __name__ == "__main__":
    run_script(main)
