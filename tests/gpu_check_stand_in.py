"""A stand-in for the python that benchmarks/gpu_check.sh runs (PYTHON=...), for CPU tests of the script itself.

Each call is appended to $FAKE_CALLS. The steps act as their real counterparts would on success, in no time: `env`
and `models` write their JSON, `run --name export_M` makes WORK/M's graphs and FP16 / INT8 engines, `run --name
engine_fp32_M` makes WORK/M/model.engine, `engine` writes the engine's track and latency results, `report` is the
real one, and `-c` (the GPU's name) prints no_gpu. An engine build (export_M, engine_fp32_M) records `start NAME`
and `end NAME`, `overlap NAME` when it starts while another build is running, and `cache NAME DIR timing=FILES
old_engines=FILES`: its $DT_CACHE_DIR, the files in it, and the engines under WORK that hold b"old" (it saves a
timing cache into DT_CACHE_DIR/tensorrt as a build does); the first build waits up to
$FAKE_WAIT_S seconds for another to start. At the build named $FAKE_KILL_AT the whole script is killed (SIGKILL to
its process group), as a device machine's time limit does.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path


def record(line: str) -> None:
    with open(os.environ["FAKE_CALLS"], "a") as fh:
        fh.write(line + "\n")


def opt(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def build(work: Path, name: str) -> None:
    """One engine build: the files it leaves, its step JSON, and whether another build ran at the same time."""
    if name == os.environ.get("FAKE_KILL_AT"):
        record(f"killed at {name}")
        os.killpg(os.getpgrp(), signal.SIGKILL)
    running = work / ".building"
    running.mkdir(exist_ok=True)
    first = not (work / ".built_once").exists()
    if any(running.iterdir()):
        record(f"overlap {name}")
    (running / name).touch()
    record(f"start {name}")
    cache = Path(os.environ.get("DT_CACHE_DIR") or "-")
    kept = sorted(p.name for p in cache.rglob("*") if p.is_file()) if cache.is_dir() else []
    old = sorted(p.name for p in work.glob("*/*.engine") if p.read_bytes() == b"old")
    record(f"cache {name} {cache} timing={','.join(kept)} old_engines={','.join(old)}")
    deadline = time.monotonic() + (float(os.environ.get("FAKE_WAIT_S", "0")) if first else 0.0)
    while time.monotonic() < deadline and len(list(running.iterdir())) < 2:
        time.sleep(0.05)
    model = name.split("_", 2)[-1] if name.startswith("engine_fp32_") else name.split("_", 1)[1]
    folder = work / model
    folder.mkdir(parents=True, exist_ok=True)
    made = ["model.engine"] if name.startswith("engine_fp32_") else ["model.onnx", "model_fp16.engine",
                                                                      "model_int8_trt.engine"]
    for f in made:
        (folder / f).write_bytes(b"stand-in")
    if cache.name != "-":   # a build saves its timing cache there (export.tensorrt)
        (cache / "tensorrt").mkdir(parents=True, exist_ok=True)
        (cache / "tensorrt" / "timing-stand-in.cache").write_bytes(b"timed")
    (work / f"02_{name}.json").write_text(json.dumps({"step": "run", "model": name, "ok": True, "seconds": 0.0}))
    (work / ".built_once").touch()
    (running / name).unlink()
    record(f"end {name}")


def main(args: list[str]) -> int:
    record(" ".join(args))
    if args[:1] == ["-c"]:
        print("no_gpu")
        return 0
    if args[:1] != ["benchmarks/gpu_check.py"]:
        return 0
    command, path = args[1], Path(args[2])
    if command == "report":
        os.execv(sys.executable, [sys.executable, *args])
    if command == "env":
        (path / "00_env.json").write_text(json.dumps({"step": "env", "ok": True, "gpu": "no GPU"}))
    elif command == "models":
        (path / "vitb256ce_random.pt").write_bytes(b"stand-in")
        (path / "01_models.json").write_text(json.dumps({"step": "models", "ok": True}))
    elif command == "run":
        build(path, opt(args, "--name"))
    elif command == "engine":
        model, out = opt(args, "--model"), Path(opt(args, "--out"))
        result = {"ok": True, "model": model, "engine": path.name, "frames": 100, "targets": 2, "mean_iou": 1.0,
                  "min_iou": 1.0, "diverged_frames": 0.0, "syncs_per_frame_max": 0}
        (out / f"{model}_{path.stem}_track.json").write_text(json.dumps({"step": "track", **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
