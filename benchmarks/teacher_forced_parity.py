"""Two artifacts on one sequence, the second fed the first's state every frame (teacher forcing).

Closed-loop result files can part after many frames because sub-pixel state differences grow. Fed the same state,
an exact export should give the same score maps (within float noise) and the same boxes on every frame: this prints
the per-frame score-map difference, each crop's windowed peak and the box difference, so a real export error (a
difference that appears with the same inputs) can be told from loop-grown float noise.

    python benchmarks/teacher_forced_parity.py REF MODEL --data SET_FOLDER --sequence NAME [--dataset synth]
        [--split val] [--frames N] [--tracker-keys '{"SCALE_SEARCH": [0.8], "SCALE_PENALTY": 0.97}']
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from droptrack.engine.base import to_numpy
from droptrack.errors import InputError, run_script


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", help="checkpoint / ONNX / engine whose states lead")
    ap.add_argument("model", help="the artifact fed the reference's states")
    ap.add_argument("--data", required=True, help="dataset root (e.g. a dt data synth folder)")
    ap.add_argument("--dataset", default="synth")
    ap.add_argument("--split", default="val")
    ap.add_argument("--sequence", required=True)
    ap.add_argument("--frames", type=int, default=0, help="frames to compare (0 = all)")
    ap.add_argument("--tracker-keys", default="{}", help="TEST-style tracker extension keys, JSON")
    a = ap.parse_args()
    try:
        ext = json.loads(a.tracker_keys)
    except json.JSONDecodeError as e:
        raise InputError(f"--tracker-keys is not JSON ({e.msg}); e.g. '{{\"SCALE_SEARCH\": [0.8]}}'") from None
    from droptrack.data import get_sequences
    from droptrack.runtime.tracker import load_tracker

    seq = get_sequences(a.dataset, root=a.data, split=a.split, names=[a.sequence])[0]
    lead, follow = load_tracker(a.reference, threads=1, ext=ext), load_tracker(a.model, threads=1, ext=ext)
    first = seq.frame(0)
    lead.initialize(first, list(seq.boxes[0]))
    follow.initialize(first, list(seq.boxes[0]))
    n = len(seq) if a.frames <= 0 else min(len(seq), a.frames + 1)
    worst = (0.0, 0.0)
    print("frame  score_map_max_abs  peaks_reference  peaks_model  box_max_abs_px")
    for i in range(1, n):
        frame = seq.frame(i)
        outs, peaks = [], []
        for tr in (lead, follow):
            search, factors = tr.preprocess(frame)
            out = tr.infer(search)
            windowed = to_numpy(tr.window) * to_numpy(out["score_map"])
            peaks.append(windowed.reshape(windowed.shape[0], -1).max(1))
            outs.append((out, factors))
        d_score = float(np.abs(to_numpy(outs[0][0]["score_map"]) - to_numpy(outs[1][0]["score_map"])).max())
        boxes = [tr.postprocess(o, f, frame.shape[:2])[0].box for tr, (o, f) in zip((lead, follow), outs)]
        d_box = float(np.abs(np.subtract(*boxes)).max())
        worst = (max(worst[0], d_score), max(worst[1], d_box))
        print(f"{i:5d}  {d_score:17.2e}  {np.round(peaks[0], 6)}  {np.round(peaks[1], 6)}  {d_box:.4f}")
        follow.states = [list(s) for s in lead.states]   # teacher forcing
    print(f"worst: score map {worst[0]:.2e}, box {worst[1]:.4f} px over {n - 1} frames")


if __name__ == "__main__":
    run_script(main)
