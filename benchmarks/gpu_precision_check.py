"""GPU check that needs no TensorRT: how far CUDA FP16/BF16 tracking drifts from FP32 (issue #13's divergence).

Usage (on a CUDA machine): python benchmarks/gpu_precision_check.py --out DIR [--sequences 40 --frames 60]
The embedded default model (its packaged tracker procedure) tracks issue #13's held-out set (synthetic val split,
seed 2, the set `precision_targets.py` reports on) with the torch backend in each of these numerics:
  cuda_fp32      CUDA, TF32 off: the reference;
  cuda_tf32      CUDA with TF32 matmul/convolution (10-bit mantissa products, FP32 accumulation);
  cuda_fp16      the whole model in FP16 (`model.half()`: what a plain FP16 engine computes);
  cuda_amp_fp16  torch autocast FP16 (softmax, LayerNorm and reductions stay FP32: an "islands" engine);
  cuda_amp_bf16  torch autocast BF16;
  cpu_fp32       the same tracker on the CPU (float-order differences only: the loop's own noise floor).
Per mode: diverged frames (IoU < 0.5 with the reference's box, init frames excluded), the same over frames where
the reference is on the target, mean IoU, ΔAUC vs the reference with a paired bootstrap 95 % CI, ms per frame.
Writes DIR/gpu_precision_check.{json,md} and DIR/boxes_<mode>.npz; modes whose boxes are already in DIR are read
back, so an interrupted run resumes (and the table can be rebuilt off the GPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from droptrack.artifact import atomic_savez  # noqa: E402
from droptrack.data import get_sequences  # noqa: E402
from droptrack.data.synth import ensure_synth  # noqa: E402
from droptrack.engine.torch_backend import TorchBackend  # noqa: E402
from droptrack.runtime.backends import tracker_ext  # noqa: E402
from droptrack.runtime.tracker import Tracker  # noqa: E402
from precision_targets import tracker_keys  # noqa: E402
from droptrack.errors import InputError, run_script

MS_KEY = "_ms_per_frame_p50"   # stored beside the per-sequence boxes in boxes_<mode>.npz
SETTINGS_KEY = "_settings"      # likewise: the model, set and tracker keys the boxes were tracked with
MODES = ("cuda_fp32", "cuda_tf32", "cuda_fp16", "cuda_amp_fp16", "cuda_amp_bf16", "cpu_fp32")


class NumericsBackend(TorchBackend):
    """Torch backend run in one numerics mode (half weights, or autocast to a dtype); outputs back in FP32."""

    def __init__(self, base: TorchBackend, half: bool = False, autocast: torch.dtype | None = None):
        super().__init__(base.model.half() if half else base.model, base.cfg, str(base._device))
        self.half, self.autocast = half, autocast

    @torch.inference_mode()
    def _infer(self, template, search) -> dict:
        z = torch.as_tensor(template).to(self._device)
        x = torch.as_tensor(search).to(self._device)
        if self.half:
            z, x = z.half(), x.half()
        with torch.autocast(self._device.type, dtype=self.autocast or torch.float16, enabled=self.autocast is not None):
            out = self.model(z, x, ce_template_mask=self.model.template_index)
        return {k: out[k].float() for k in ("score_map", "size_map", "offset_map")}


def backend_for(mode: str) -> TorchBackend:
    """A fresh torch backend of the embedded default model in `mode`."""
    base = TorchBackend.from_checkpoint(None, device="cpu" if mode.startswith("cpu") else "cuda",
                                        allow_tf32=mode == "cuda_tf32")   # every other mode: IEEE FP32 (the default)
    if mode == "cuda_fp16":
        return NumericsBackend(base, half=True)
    if mode.startswith("cuda_amp_"):
        return NumericsBackend(base, autocast=torch.bfloat16 if mode.endswith("bf16") else torch.float16)
    return base


def make_tracker(mode: str, keys: dict | None) -> Tracker:
    """The default model's tracker in `mode`, its packaged extension keys updated by `keys` (--tracker-keys)."""
    backend = backend_for(mode)
    return Tracker(backend, tracker_ext(backend, keys))


def track(mode: str, seqs: list, keys: dict | None = None) -> tuple[dict[str, np.ndarray], float]:
    """Boxes of every sequence tracked from its first box in `mode`, and the median ms per frame."""
    if torch.cuda.is_available():   # cuda_tf32: TF32 matmuls too (torch's own default turns on only cuDNN's)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = mode == "cuda_tf32"
    tracker = make_tracker(mode, keys)
    out, ms = {}, []
    for s in seqs:
        frames = list(s.iter_frames())
        tracker.initialize(frames[0], s.boxes[0])
        boxes = [np.asarray(s.boxes[0], np.float64)]
        for f in frames[1:]:
            t = time.perf_counter()
            boxes.append(np.asarray(tracker.track(f)[0], np.float64))
            ms.append((time.perf_counter() - t) * 1e3)
        out[s.name] = np.stack(boxes)
    return out, float(np.median(ms))


def compare(boxes: dict, ref: dict, seqs: list) -> dict:
    """precision_targets' held-out row (divergence, on-target divergence, mean IoU, ΔAUC CI) in percent, plus AUC."""
    from bench_int8_accuracy import seq_auc
    from precision_targets import row

    r = row(boxes, ref, seqs)
    return {"diverged_pct": 100 * r["divergence"], "diverged_on_target_pct": 100 * r["divergence_fp32_on_target"],
            "frames_on_target": r["frames_fp32_on_target"], "mean_iou": r["mean_iou"],
            "auc": float(seq_auc(boxes, seqs).mean()), "delta_auc_ci": r["delta_auc_ci"]}


def run_settings(seed: int, sequences: int, frames: int, keys: dict | None) -> str:
    """What boxes_<mode>.npz must have been tracked with to be read back: the model's sha256, the set, the keys."""
    from droptrack.artifact import sha256_file
    from droptrack.model.default import default_checkpoint

    return json.dumps({"model_sha256": sha256_file(default_checkpoint())[:12], "seed": seed, "sequences": sequences,
                       "frames": frames, "tracker_keys": keys}, sort_keys=True)


def read_saved(saved: Path, settings: str) -> tuple[dict, float | None]:
    """(boxes, ms per frame) of an earlier run; files of other settings stop the run (they were read back as they
    were: another --seed, --tracker-keys or model reused old boxes); files written before settings were kept pass."""
    boxes = dict(np.load(saved, allow_pickle=False))
    old = boxes.pop(SETTINGS_KEY, None)
    if old is not None and str(old) != settings:
        raise InputError(f"{saved} was tracked with other settings ({old}, now {settings}); pass another --out or "
                         "delete it")
    return boxes, float(boxes.pop(MS_KEY)) if MS_KEY in boxes else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sequences", type=int, default=40)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--gpu", help="GPU name for the report when its table is rebuilt off the GPU machine")
    ap.add_argument("--torch", help="torch version the boxes were tracked with, likewise")
    ap.add_argument("--threads", type=int, default=8, help="torch CPU threads (the cpu_fp32 mode)")
    ap.add_argument("--data", type=Path, default=Path("out/gpu_precision_data"))
    ap.add_argument("--tracker-keys", default=None, help="JSON TEST tracker-extension keys over the packaged ones, "
                    "e.g. '{\"CROP_GRID\": 0.1}'")
    args = ap.parse_args()
    keys = None if args.tracker_keys is None else tracker_keys(ap, args.tracker_keys)
    modes = args.modes.split(",")
    todo = [m for m in modes if not (args.out / f"boxes_{m}.npz").is_file()]
    if any(m.startswith("cuda") for m in todo) and not torch.cuda.is_available():
        raise InputError("no CUDA device visible; run this on a GPU machine (or --modes cpu_fp32 for a smoke run)")
    torch.set_num_threads(args.threads)
    d = ensure_synth(args.data / f"heldout_s{args.seed}_{args.sequences}x{args.frames}", args.sequences, args.frames,
                     args.seed, (320, 240), split="val")
    seqs = get_sequences("synth", d, split="val")
    args.out.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    res = {"gpu": args.gpu or gpu, "torch": args.torch or torch.__version__,
           "set": f"synthetic val split, seed {args.seed}, {args.sequences}x{args.frames} frames",
           "procedure": make_tracker("cpu_fp32", keys).ext.describe(), "modes": {}}
    boxes = {}
    settings = run_settings(args.seed, args.sequences, args.frames, keys)
    for m in modes:   # a mode whose boxes are already in --out is read back (an interrupted run resumes)
        saved = args.out / f"boxes_{m}.npz"
        if saved.is_file():
            boxes[m], ms = read_saved(saved, settings)
            res["modes"][m] = {"ms_per_frame_p50": ms}
            print(f"{m}: boxes read from {saved}", flush=True)
            continue
        t = time.perf_counter()
        boxes[m], ms = track(m, seqs, keys)
        atomic_savez(saved, {**boxes[m], MS_KEY: np.float64(ms), SETTINGS_KEY: np.str_(settings)})   # atomic
        res["modes"][m] = {"ms_per_frame_p50": ms}
        print(f"{m}: tracked in {time.perf_counter() - t:.0f} s, {ms:.2f} ms/frame", flush=True)
    ref = modes[0]
    for m in modes[1:]:
        res["modes"][m].update(compare(boxes[m], boxes[ref], seqs))
    res["reference"] = ref
    (args.out / "gpu_precision_check.json").write_text(json.dumps(res, indent=1))
    md = [f"# Reduced-precision tracking on CUDA (torch backend), {res['gpu']}", "",
          f"`python benchmarks/gpu_precision_check.py --sequences {args.sequences} --frames {args.frames} "
          f"--seed {args.seed}`; torch {res['torch']}; {res['set']}; tracker: {res['procedure']}; "
          f"reference: {ref}", "",
          "| mode | diverged frames | diverged, ref on target | mean IoU vs ref | AUC | ΔAUC [95 % CI] | ms/frame |",
          "|---|---|---|---|---|---|---|"]
    for m in modes:
        r = res["modes"][m]
        ms = "-" if r["ms_per_frame_p50"] is None else f"{r['ms_per_frame_p50']:.2f}"
        if m == ref:
            md.append(f"| {m} | (reference) | | | | | {ms} |")
            continue
        d_, lo, hi = r["delta_auc_ci"]
        md.append(f"| {m} | {r['diverged_pct']:.1f} % | {r['diverged_on_target_pct']:.1f} % | {r['mean_iou']:.3f} | "
                  f"{r['auc']:.2f} | {d_:+.2f} [{lo:+.2f}, {hi:+.2f}] | {ms} |")
    (args.out / "gpu_precision_check.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    run_script(main)
