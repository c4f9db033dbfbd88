"""Issue #13: can FP32 islands make FP16 track like FP32? Score-peak flips of FP16 graphs with FP32 islands.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/fp16_islands.py [--tracker-keys '{"CROP_GRID": 0.1}']
        [--val-sequences 80 --val-frames 60]

Each variant is `dt export --fp16 --keep-fp32 PATTERN...` (droptrack.export.precision.fp16_model) of the same FP32
graph. The FP32 tracker runs the validation set (synthetic val split, seed 1: never a held-out set) and every
variant is fed its crops (open loop), so nothing compounds: per crop, whether the windowed score map's peak moves
(a flip: the box jumps to another candidate, which is what makes the closed loop diverge), the box difference in
image pixels and the largest score-map error. If one part of the network caused the flips, keeping it in FP32
would remove them. Writes --out/{table.md,report.json}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from droptrack.eval.machine import benchmark_machine  # noqa: E402
from droptrack.errors import run_script

OUT = Path(__file__).parent / "results" / "fp16_islands"
VARIANTS = {   # name -> --keep-fp32 patterns (droptrack's ONNX node names)
    "fp16 (dt export --fp16)": [],
    "head": ["/box_head/"],
    "attention MatMul + Softmax": [r"/attn/(MatMul|MatMul_1|Softmax|Mul)$"],
    "LayerNorm": ["LayerNormalization"],
    "MLP (fc1, GELU, fc2)": ["/mlp/"],
    "qkv + proj GEMMs": [r"/attn/(qkv|proj)/"],
    "block 0": [r"/blocks\.0/"],
    "patch + position embeddings": ["patch_embed", r"/model/backbone/Add(_[123])?$", r"/model/backbone/Concat$"],
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    from tracker_keys_option import add_model_options, parsed_keys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(ap)
    ap.add_argument("--val-sequences", type=int, default=80)
    ap.add_argument("--val-frames", type=int, default=60)
    ap.add_argument("--work", type=Path, default=Path("out/precision_targets"))
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    a.keys = parsed_keys(ap, a)
    return a


def graphs(work: Path, source: str | None) -> dict[str, Path]:
    """The FP32 graph (exported once, verified) and one FP16 graph per variant (cached by name)."""
    import onnx

    from droptrack.artifact import atomic_write
    from droptrack.export.onnx import read_metadata, set_metadata
    from droptrack.export.pipeline import export_onnx, load_source
    from droptrack.export.precision import fp16_model

    fp32 = work / "model.onnx"
    if not fp32.is_file():
        export_onnx(output_dir=work, source=load_source(source))
    out = {"fp32": fp32}
    for i, (name, keep) in enumerate(VARIANTS.items()):
        path = work / f"fp16_island{i}.onnx"
        if not path.is_file():
            half = fp16_model(onnx.load(str(fp32)), keep_fp32=keep)
            set_metadata(half, read_metadata(fp32))
            atomic_write(path, lambda p: onnx.save(half, str(p)))
        out[name] = path
    return out


def open_loop(paths: dict[str, Path], seqs: list, search_size: int) -> dict[str, dict]:
    """Every variant fed the FP32 tracker's crops: flips, box difference (px), largest score error per crop."""
    from precision_targets import crop_differences

    res = crop_differences(paths["fp32"], {k: p for k, p in paths.items() if k != "fp32"}, seqs, search_size)
    return {k: {"crops": int(v["diff"].size), "flips": v["flips"], "box_diff_px_median": float(np.median(v["diff"])),
                "box_diff_px_p99": float(np.percentile(v["diff"], 99)),
                "score_err_median": float(np.median(v["score_err"])), "keep_fp32": VARIANTS[k]}
            for k, v in res.items()}


def markdown(res: dict) -> str:
    L = [f"# FP16 with FP32 islands (issue #13): {res['checkpoint']}", "",
         f"Recorded {res['date']} by `{res['command']}` ({res['wall_s']} s; load average at the end "
         f"{res['loadavg_end']}; {res['machine'].get('cpu', '')}, ONNX Runtime CPU, 1 thread).",
         f"Set: {res['set']}. Every variant is fed the FP32 tracker's crops (open loop, {res['crops']} crops).", "",
         "| FP32 island (`dt export --fp16 --keep-fp32 ...`) | score-peak flips | box difference median / p99 (px) "
         "| score-map error, median of the per-crop max |", "|---|---|---|---|"]
    for name, v in res["variants"].items():
        pats = " ".join(f"`{p}`".replace("|", "\\|") for p in v["keep_fp32"]) or "none"
        L.append(f"| {name} ({pats}) | {v['flips']} | {v['box_diff_px_median']:.4f} / {v['box_diff_px_p99']:.3f} | "
                 f"{v['score_err_median']:.2e} |")
    base_name = next(iter(res["variants"]))
    base = res["variants"][base_name]["flips"]
    best = min(res["variants"], key=lambda k: res["variants"][k]["flips"])
    L += ["", f"Plain FP16: {base} flips in {res['crops']} crops; fewest with an island: {best}, "
          f"{res['variants'][best]['flips']}. A flip moves the box to another candidate of the score map; in the "
          "closed loop it is what makes FP16's track leave FP32's."]
    return "\n".join(L) + "\n"


def main() -> None:
    from droptrack.export.auto_precision import Int8Options, validation_sequences
    from droptrack.export.onnx import read_metadata

    from tracker_keys_option import keyed_checkpoint, model_args, write_report

    a = parse()
    t0 = time.perf_counter()
    ckpt, work = keyed_checkpoint(a)
    name, source = a.model or "embedded default model", a.model
    if a.keys is not None:
        source, name = str(ckpt), name + f" with {json.dumps(a.keys)}"
    work.mkdir(parents=True, exist_ok=True)
    paths = graphs(work, source)
    opts = Int8Options(val_sequences=a.val_sequences, val_frames=a.val_frames, auto_precision=True)
    seqs, desc = validation_sequences(opts, work / ".auto_precision")
    variants = open_loop(paths, seqs, read_metadata(paths["fp32"]).search_size)
    res = {"checkpoint": f"{name} (sha256 {work.name}...)", "set": desc, "variants": variants,
           "crops": next(iter(variants.values()))["crops"],
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "wall_s": round(time.perf_counter() - t0),
           "loadavg_end": [round(x, 2) for x in os.getloadavg()], "machine": benchmark_machine(ort_intra_op_threads=1),
           "command": "OMP_NUM_THREADS=1 nice -n 10 python benchmarks/fp16_islands.py"
           + model_args(a) + f" --val-sequences {a.val_sequences} --val-frames {a.val_frames}"}
    write_report(a.out, res, markdown)


if __name__ == "__main__":
    run_script(main)
