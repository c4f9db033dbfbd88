"""Issue #13: can quantization-aware distillation make the ORT INT8 graph track like its FP32 teacher?

    OMP_NUM_THREADS=2 nice -n 10 python benchmarks/int8_qad.py --model CKPT [--tracker-keys JSON] [--steps 800]

A student copy of the checkpoint runs its block GEMMs with simulated ORT dynamic INT8 (S8 per-tensor weights, U8
per-sample activation ranges; straight-through gradients) and is fine-tuned (Adam, cosine LR) to reproduce the FP32
teacher's score map (MSE) and, weighted by the teacher's score, its size and offset maps, on tracking-crop pairs
from synthetic TRAIN-split sequences (made here with `dt data synth --split train`, never a validation photo).
The student is then exported like `dt export --int8` (ORT graph), and both INT8 graphs (plain and distilled) are
compared with the TEACHER's FP32 graph on validation-split crops: score error, peak flips, box difference. The
deployed question is whether the distilled INT8 graph is closer to the original FP32 model than plain INT8.
Writes --out/{table.md,report.json}.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))     # sibling scripts
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from droptrack.errors import run_script  # noqa: E402
from int8_error_sources import int8_graph, quant_act, quant_weight  # noqa: E402  (sibling)
from tracker_keys_option import add_model_options, keyed_checkpoint, model_args, parsed_keys, write_report  # noqa: E402

OUT = Path(__file__).parent / "results" / "int8_qad"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(ap)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--pairs", type=int, default=4000, help="Training pairs (template + jittered search crop).")
    ap.add_argument("--eval-pairs", type=int, default=400)
    ap.add_argument("--train-sequences", default="240,80",
                    help="Plain,hard synthetic train-split sequences (30 frames).")
    ap.add_argument("--eval-sequences", type=int, default=40, help="Val-split (seed 1) sequences of 40 frames.")
    ap.add_argument("--work", type=Path, default=Path("out/int8_qad"))
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    a.keys = parsed_keys(ap, a)
    if a.steps < 1 or a.batch < 1 or a.pairs < a.batch:
        ap.error("--steps and --batch must be >= 1 and --pairs >= --batch")
    try:
        a.plain, a.hard = (int(x) for x in a.train_sequences.split(","))
    except ValueError:
        ap.error(f"--train-sequences {a.train_sequences}: give two counts, plain,hard (e.g. 240,80)")
    return a


def student_of(teacher):
    """The teacher with simulated-INT8 block GEMMs (straight-through gradients), same parameter names."""
    import torch.nn.functional as F
    from torch import nn

    class SimInt8Linear(nn.Linear):
        """ORT dynamic INT8: U8 activations, range per sample (one frame's crops per inference), S8 weights."""

        def forward(self, x):
            xq = x + (quant_act(x.detach(), "sample") - x).detach()
            w = self.weight + (quant_weight(self.weight.detach(), False) - self.weight).detach()
            return F.linear(xq, w, self.bias)

    student = copy.deepcopy(teacher).eval()
    for block in student.backbone.blocks:
        for parent, name in ((block.attn, "qkv"), (block.attn, "proj"), (block.mlp, "fc1"), (block.mlp, "fc2")):
            lin = getattr(parent, name)
            sim = SimInt8Linear(lin.in_features, lin.out_features)
            sim.load_state_dict(lin.state_dict())
            setattr(parent, name, sim)
    return student


def train_sequences(work: Path, plain: int, hard: int) -> list:
    """Synthetic train-split sequences (plain and hard), made once under --work."""
    from droptrack.data import get_sequences

    seqs = []
    sets = (("train_plain", plain, 5150, []), ("train_hard", hard, 5151, ["--attributes", "all"]))
    for name, n, seed, extra in sets:
        folder = work / f"{name}_{n}"
        if n and not (folder / "list.txt").is_file():
            subprocess.run([sys.executable, "-m", "droptrack", "data", "synth", str(folder), "--split", "train",
                            "--sequences", str(n), "--frames", "30", "--seed", str(seed), *extra], check=True)
        seqs += get_sequences("synth", folder, split="train") if n else []
    return seqs


def distill(teacher, pairs, a) -> tuple[object, list[float]]:
    """Fine-tune the student; returns it (as a plain FP32 model with the learned weights) and the loss curve."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    Z = torch.from_numpy(np.concatenate([p.template for p in pairs]))
    X = torch.from_numpy(np.concatenate([p.search for p in pairs]))
    ti = teacher.template_index
    with torch.no_grad():
        outs = [teacher(Z[i:i + 64], X[i:i + 64], ce_template_mask=ti) for i in range(0, len(Z), 64)]
        T = {k: torch.cat([o[k] for o in outs]) for k in ("score_map", "size_map", "offset_map")}
    student = student_of(teacher)
    opt = torch.optim.Adam(student.parameters(), lr=a.lr)
    g = torch.Generator().manual_seed(1)
    curve, norm = [], None
    for step in range(a.steps):
        for group in opt.param_groups:
            group["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * step / a.steps))
        idx = torch.randint(0, len(Z), (a.batch,), generator=g)
        o = student(Z[idx], X[idx], ce_template_mask=ti)
        w = T["score_map"][idx]
        ls = F.mse_loss(o["score_map"], w)
        box_err = (o["size_map"] - T["size_map"][idx]) ** 2 + (o["offset_map"] - T["offset_map"][idx]) ** 2
        lb = (w * box_err).sum() / w.sum()
        norm = norm or (ls.item(), lb.item())
        loss = ls / norm[0] + lb / norm[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
        if step % 100 == 0:
            print(f"step {step} loss {np.mean(curve[-100:]):.3f}", flush=True)
    plain = copy.deepcopy(teacher)
    plain.load_state_dict(student.state_dict())
    return plain.eval(), curve


def compare(reference: Path, graphs: dict[str, Path], pairs) -> dict[str, dict]:
    """Open loop on fixed crops: each graph vs the teacher's FP32 graph."""
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.geometry import decode_box

    ref = OrtBackend(reference, threads=1)
    base = [ref.infer(p.template, p.search) for p in pairs]
    res = {}
    for name, path in graphs.items():
        be = OrtBackend(path, threads=1)
        err, flips, box = [], 0, []
        for p, r in zip(pairs, base):
            o = be.infer(p.template, p.search)
            err.append(float(np.abs(o["score_map"] - r["score_map"]).max()))
            flips += int(np.argmax(o["score_map"]) != np.argmax(r["score_map"]))
            ba = decode_box(r["score_map"], r["size_map"], r["offset_map"])[0]
            bb = decode_box(o["score_map"], o["size_map"], o["offset_map"])[0]
            box.append(float(np.abs(np.asarray(ba) - np.asarray(bb)).max()))
        res[name] = {"score_err_median": float(np.median(err)), "score_err_p90": float(np.percentile(err, 90)),
                     "flips": flips, "pairs": len(pairs), "box_diff_median": float(np.median(box))}
    return res


def main(argv: list[str] | None = None) -> None:
    from droptrack.data import get_sequences
    from droptrack.data.synth import ensure_synth
    from droptrack.export.calibration import calibration_pairs, sequence_pairs
    from droptrack.export.onnx import read_metadata
    from droptrack.export.pipeline import export_onnx, load_source

    a = parse(argv)
    t0 = time.perf_counter()
    ckpt, work = keyed_checkpoint(a)
    src = load_source(ckpt)
    fp32 = work / "teacher" / "model.onnx"
    if not fp32.is_file():
        export_onnx(output_dir=fp32.parent, source=src)
    meta = read_metadata(fp32)
    pairs = sequence_pairs(train_sequences(a.work, a.plain, a.hard), meta, a.pairs, seed=7)
    student, curve = distill(src.model.eval(), pairs, a)
    changed = max(float((p - q).detach().abs().max()) for p, q in zip(student.parameters(), src.model.parameters()))
    export_onnx(output_dir=work / "student", source=load_source(model=student, cfg=src.cfg))
    cal, desc = calibration_pairs(meta, None, 32)
    graphs = {"teacher, plain ORT INT8": int8_graph(fp32, work / "teacher" / "int8.onnx", cal, desc, False),
              "student FP32": work / "student" / "model.onnx",
              "student ORT INT8 (distilled)": int8_graph(work / "student" / "model.onnx",
                                                        work / "student" / "int8.onnx", cal, desc, False)}
    val = work / f"val_s1_{a.eval_sequences}x40"
    ensure_synth(val, a.eval_sequences, 40, 1, (320, 240), split="val")
    eval_pairs = sequence_pairs(get_sequences("synth", val, split="val"), meta, a.eval_pairs, seed=3)
    res = {"checkpoint": str(a.model or "embedded default model"), "sha256": work.name, "keys": a.keys,
           "steps": a.steps, "lr": a.lr, "batch": a.batch, "train_pairs": len(pairs),
           "loss_first_100": float(np.mean(curve[:100])), "loss_last_100": float(np.mean(curve[-100:])),
           "largest_weight_change": changed,
           "eval": compare(fp32, graphs, eval_pairs), "eval_set": f"{len(eval_pairs)} crops of the val split seed 1",
           "wall_s": round(time.perf_counter() - t0), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')} python benchmarks/int8_qad.py"
           + model_args(a)
           + f" --steps {a.steps} --lr {a.lr:g} --batch {a.batch} --pairs {a.pairs}"
           + f" --train-sequences {a.train_sequences}"}
    write_report(a.out, res, markdown)


def markdown(r: dict) -> str:
    L = [f"# Quantization-aware distillation (issue 13): {r['checkpoint']} (sha256 {r['sha256']}...)", "",
         f"Recorded {r['date']} by `{r['command']}` ({r['wall_s']} s). {r['train_pairs']} training pairs; loss "
         f"(1.0 + 1.0 at the first batch) {r['loss_first_100']:.3f} over the first 100 steps, "
         f"{r['loss_last_100']:.3f} over the last 100.", "",
         f"Each graph vs the teacher's FP32 graph, {r['eval_set']} (open loop, ONNX Runtime CPU):", "",
         "| graph | score error median / p90 | peak flips | box difference median (crop units) |", "|---|---|---|---|"]
    L += [f"| {k} | {v['score_err_median']:.2e} / {v['score_err_p90']:.2e} | {v['flips']} / {v['pairs']} | "
          f"{v['box_diff_median']:.2e} |" for k, v in r["eval"].items()]
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    run_script(main)
