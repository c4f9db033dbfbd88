"""Does watching `dt serve` slow the tracker? Per-frame loop time with no viewer, a fast viewer and a stalled one.

One `dt serve` server (the embedded model, CPU, --no-pace) tracks one target through bikes.mp4 (640x272) while
WebSocket clients read `/ws/video`: none, one that asks for every frame as soon as it has the last (a fast browser),
and one that reads one frame and then never asks again (a stalled browser). Rounds alternate A/B/C so that the
machine's load hits every condition alike. Reports the median and p99 of the tracker's per-frame total (capture,
pre, infer, post, output) and the frames the viewer got. Writes benchmarks/results/serve_cpu.json and .md. Usage:
    python benchmarks/bench_serve_cpu.py [--frames 60] [--rounds 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import numpy as np

from droptrack.data.media import bundled_video
from droptrack.eval.machine import benchmark_machine, machine_line
from droptrack.engine.threads import apply_threads
from droptrack.serve.app import create_app
from droptrack.serve.server import bind_socket
from droptrack.serve.options import ServeOptions
from droptrack.serve.session import Session
from droptrack.errors import run_script

RESULTS = Path(__file__).parent / "results"
INIT = [300.0, 18.0, 265.0, 182.0]   # the parked bike of bikes.mp4 (droptrack/demo.py), drawn on frame 0


def viewer(url: str, mode: str, stop: threading.Event, got: list[int]) -> None:
    """A /ws/video client: 'fast' acks every frame at once; 'stalled' takes one frame and never acks."""
    from websockets.sync.client import connect

    with connect(url, max_size=None) as ws:
        while not stop.is_set():
            try:
                ws.recv(timeout=0.2)
            except TimeoutError:
                continue
            got[0] += 1
            if mode == "fast":
                ws.send("next")


def one_round(opts: ServeOptions, mode: str) -> dict:
    import uvicorn

    session = Session(opts)
    session.start()
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(session), log_level="warning", lifespan="off"))
    th = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.02)
    stop, got = threading.Event(), [0]
    client = None
    if mode != "none":
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ws/video"
        client = threading.Thread(target=viewer, args=(url, mode, stop, got), daemon=True)
        client.start()
        time.sleep(0.5)
    t0 = time.perf_counter()
    session.add_target(INIT)
    while session.state != "ended":
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    stop.set()
    if client is not None:
        client.join(5)
    server.should_exit = True
    th.join(10)
    session.stop()
    total = np.asarray(session.stage_times()["total"])[1:]   # the first tracked frame warms up
    return {"mode": mode, "frames": int(total.size), "median_ms": float(np.median(total)),
            "p99_ms": float(np.percentile(total, 99)), "wall_fps": float(total.size / wall),
            "viewer_frames": got[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    apply_threads(args.threads)
    opts = ServeOptions(str(bundled_video("bikes.mp4")), device="cpu", pace=False, max_frames=args.frames + 1)
    rows = [one_round(opts, mode) for _ in range(args.rounds) for mode in ("none", "fast", "stalled")]
    by_mode = {m: [r for r in rows if r["mode"] == m] for m in ("none", "fast", "stalled")}
    summary = {m: {"median_ms": float(np.median([r["median_ms"] for r in rs])),
                   "p99_ms": float(np.median([r["p99_ms"] for r in rs])),
                   "wall_fps": float(np.median([r["wall_fps"] for r in rs])),
                   "viewer_frames": int(np.median([r["viewer_frames"] for r in rs]))} for m, rs in by_mode.items()}
    cmd = f"python benchmarks/bench_serve_cpu.py --frames {args.frames} --rounds {args.rounds} --threads {args.threads}"
    out = {"command": cmd, "machine": benchmark_machine(), "rounds": rows, "summary": summary}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_cpu.json").write_text(json.dumps(out, indent=2))
    m = out["machine"]
    lines = ["# dt serve: tracker per-frame time with and without viewers (CPU)", "",
             f"Command: `{cmd}`. Machine: {machine_line(m)}, load {m['loadavg_1m']} (1 min) when it ended, "
             f"torch threads {m['torch_threads']}. Medians over {args.rounds} alternating rounds of "
             f"{args.frames} frames.", "",
             "| viewer | tracker ms median | ms p99 | tracked FPS (wall) | frames the viewer got |",
             "|---|---|---|---|---|"]
    for mode, s in summary.items():
        lines.append(f"| {mode} | {s['median_ms']:.2f} | {s['p99_ms']:.2f} | {s['wall_fps']:.1f} | "
                     f"{s['viewer_frames']} |")
    (RESULTS / "serve_cpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run_script(main)
