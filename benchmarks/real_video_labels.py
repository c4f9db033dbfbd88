"""Training sequences from unlabelled real video: CSRT tracks verified forward-backward, in GOT-10k's layout.

Usage: python benchmarks/real_video_labels.py OUT VIDEO [VIDEO ...] [--every 30] [--length 50] [--min-motion 0.1]

Real footage teaches what pasted photos cannot (real appearance change, lighting, compression, motion blur), but it
has no boxes. Each VIDEO is read (longer side scaled to at most 640 px); every `--every` frames, up to five starting
boxes are proposed: moving regions (three-frame difference) and object-like segments (Felzenszwalb's, by contrast
with their surroundings). Each is tracked by OpenCV's CSRT for at most `--length` frames, in chunks of 6: after each
chunk a fresh CSRT runs back over it, and the track stops where that backward run misses the forward box at the
chunk's start (IoU < 0.6), where the box's content no longer resembles the first frame's (NCC < 0.3), or where the
box leaves the frame. Tracks of at least 20 frames whose box moves at least `--min-motion` of its size (a still box
of a still camera teaches nothing the synthetic data does not) are written as OUT/<video>_<start>_<k>/ (frame links,
groundtruth.txt, absence/cover labels, attributes.txt `real_video`), listed in OUT/list.txt, with OUT/synth.json as
the reader's completeness marker and OUT/tracks.png, a sheet of some tracks to check by eye. The labels are CSRT's,
checked only for self-consistency: they teach real appearance change, not box precision.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np

from droptrack.errors import InputError, run_script
from droptrack.geometry import box_iou

CHUNK, FB_IOU, NCC_MIN, MIN_LEN, MAX_SIDE = 6, 0.6, 0.3, 20, 640


def read_video(path: Path) -> list[np.ndarray]:
    """Every frame of `path`, BGR, scaled so the longer side is at most 640 px."""
    cap, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        s = MAX_SIDE / max(f.shape[:2])
        frames.append(cv2.resize(f, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else f)
    if not frames:
        raise InputError(f"{path}: no frames could be read; check the file")
    return frames


def patch(frame: np.ndarray, box) -> np.ndarray:
    """The box's content as a zero-mean, unit-norm 24x24 grey vector (for NCC)."""
    x, y, w, h = (int(round(v)) for v in box)
    g = cv2.cvtColor(frame[max(y, 0):y + h, max(x, 0):x + w], cv2.COLOR_BGR2GRAY)
    v = cv2.resize(g, (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    v -= v.mean()
    return v / (np.linalg.norm(v) + 1e-6)


def moving_boxes(frames: list[np.ndarray], t: int, area: float) -> list[tuple]:
    """Boxes of the regions moving at frame t: the AND of its differences with t-3 and t+3, closed, as components."""
    if t < 3 or t + 3 >= len(frames):
        return []
    g = [cv2.GaussianBlur(cv2.cvtColor(frames[i], cv2.COLOR_BGR2GRAY), (5, 5), 0) for i in (t - 3, t, t + 3)]
    m = (cv2.absdiff(g[1], g[0]) > 20) & (cv2.absdiff(g[1], g[2]) > 20)
    m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(m)
    wh = stats[:, 2] * stats[:, 3]
    boxes = [tuple(float(v) for v in stats[i, :4]) for i in range(1, n)
             if 0.002 * area <= wh[i] <= 0.15 * area and stats[i, 4] > 0.3 * wh[i]]
    return sorted(boxes, key=lambda b: -b[2] * b[3])[:2]


def object_boxes(frame: np.ndarray, k: int) -> list[tuple]:
    """Up to k object-like boxes: Felzenszwalb segments (0.3-10 % of the frame, off the border, filling at least 40 %
    of their box, aspect 1:4..4:1) ranked by their Lab colour contrast with a ring around the box."""
    from skimage.segmentation import felzenszwalb

    H, W = frame.shape[:2]
    seg = felzenszwalb(frame[:, :, ::-1], scale=400, sigma=0.8, min_size=int(0.002 * H * W))
    lab = cv2.cvtColor(frame, cv2.COLOR_BGR2LAB).astype(np.float32)
    scored = []
    for label in np.unique(seg):
        m = (seg == label).astype(np.uint8)
        x, y, w, h = cv2.boundingRect(m)
        n = int(m.sum())
        if not (0.003 * H * W <= w * h <= 0.1 * H * W) or n < 0.4 * w * h or not 0.25 <= w / h <= 4.0:
            continue
        if x <= 2 or y <= 2 or x + w >= W - 2 or y + h >= H - 2:
            continue
        p = max(4, int(0.25 * max(w, h)))
        ring = np.zeros_like(m)
        ring[max(y - p, 0):y + h + p, max(x - p, 0):x + w + p] = 1
        ring[y:y + h, x:x + w] = 0
        if ring.sum() == 0:
            continue
        inside, around = lab[m > 0].mean(0), lab[ring > 0].mean(0)
        box = (float(x), float(y), float(w), float(h))
        scored.append((float(np.linalg.norm(inside - around)), box))
    out = []
    for contrast, box in sorted(scored, reverse=True):
        if len(out) == k or contrast < 12:
            break
        if not out or box_iou(box, out).max() < 0.2:
            out.append(box)
    return out


def csrt(frame: np.ndarray, box):
    """A CSRT tracker started on `box`."""
    t = cv2.TrackerCSRT.create()
    t.init(frame, tuple(int(round(v)) for v in box))
    return t


def verified_track(frames: list[np.ndarray], start: int, box, length: int) -> list[tuple]:
    """The forward CSRT track from `start`, cut where a chunk fails its backward check (see the module docstring)."""
    H, W = frames[0].shape[:2]
    fwd, track, ref = csrt(frames[start], box), [tuple(box)], patch(frames[start], box)
    end = min(len(frames) - 1, start + length)
    t = start
    while t < end:
        chunk = []
        for u in range(t + 1, min(t + CHUNK, end) + 1):
            ok, b = fwd.update(frames[u])
            x, y, w, h = b
            if not ok or w < 4 or h < 4 or x < -0.3 * w or y < -0.3 * h or x + 0.7 * w > W or y + 0.7 * h > H:
                return track
            chunk.append(tuple(float(v) for v in b))
        last = t + len(chunk)
        back = csrt(frames[last], chunk[-1])
        for u in range(last - 1, t - 1, -1):
            ok, b = back.update(frames[u])
            if not ok:
                return track
        if box_iou(b, track[-1])[0] < FB_IOU or float(patch(frames[last], chunk[-1]) @ ref) < NCC_MIN:
            return track
        track += chunk
        t = last
    return track


def write_track(out: Path, name: str, frame_files: list[Path], track: list[tuple]) -> None:
    """One sequence folder: links to its frames, its boxes and the GOT-10k labels (all visible)."""
    seq = out / name
    seq.mkdir(parents=True)
    for i, f in enumerate(frame_files, 1):
        os.symlink(os.path.relpath(f, seq), seq / f"{i:08d}.jpg")
    (seq / "groundtruth.txt").write_text("".join(f"{x:.4f},{y:.4f},{w:.4f},{h:.4f}\n" for x, y, w, h in track))
    (seq / "absence.label").write_text("0\n" * len(track))
    (seq / "cover.label").write_text("8\n" * len(track))
    (seq / "cut_by_image.label").write_text("0\n" * len(track))
    (seq / "attributes.txt").write_text("real_video\n")


def motion(track: list[tuple]) -> float:
    """How far the box's centre gets from its start, in units of the first box's size (sqrt of its area)."""
    b = np.asarray(track)
    c = b[:, :2] + b[:, 2:] / 2
    return float(np.linalg.norm(c - c[0], axis=1).max() / np.sqrt(b[0, 2] * b[0, 3]))


def label_video(video: Path, out: Path, every: int, length: int, min_motion: float) -> dict[str, int]:
    """Write the verified tracks of one video; returns each sequence's name and frame count."""
    frames, stem = read_video(video), video.stem.replace(" ", "_")
    store = out / "_frames" / stem
    store.mkdir(parents=True)
    files = []
    for i, f in enumerate(frames):
        files.append(store / f"{i:06d}.jpg")
        cv2.imwrite(str(files[-1]), f, [cv2.IMWRITE_JPEG_QUALITY, 92])
    area, made = frames[0].shape[0] * frames[0].shape[1], {}
    for start in range(0, len(frames) - MIN_LEN, every):
        props = moving_boxes(frames, start, area)
        props += [b for b in object_boxes(frames[start], 4) if not props or box_iou(b, props).max() < 0.3]
        for k, box in enumerate(props):
            track = verified_track(frames, start, box, length)
            if len(track) >= MIN_LEN and motion(track) >= min_motion:
                name = f"{stem}_{start:04d}_{k}"
                write_track(out, name, files[start:start + len(track)], track)
                made[name] = len(track)
    return made


def contact_sheet(out: Path, names: list[str], rows: int = 8) -> Path | None:
    """OUT/tracks.png: first, middle and last frame of up to `rows` tracks spread over the list, box drawn, so that
    the labels can be checked by eye before training on them."""
    if not names:
        return None
    lines = []
    for name in names[::max(1, len(names) // rows)][:rows]:
        boxes = np.loadtxt(out / name / "groundtruth.txt", delimiter=",", ndmin=2)
        tiles = []
        for i in (0, len(boxes) // 2, len(boxes) - 1):
            f = cv2.imread(str(out / name / f"{i + 1:08d}.jpg"))
            x, y, w, h = (int(round(v)) for v in boxes[i])
            cv2.rectangle(f, (x, y), (x + w, y + h), (0, 255, 0), 2)
            cv2.putText(f, f"{name} {i}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
            tiles.append(cv2.resize(f, (320, max(1, round(320 * f.shape[0] / f.shape[1])))))
        lines.append(np.hstack([cv2.copyMakeBorder(t, 0, max(u.shape[0] for u in tiles) - t.shape[0], 0, 0,
                                                   cv2.BORDER_CONSTANT) for t in tiles]))
    sheet = out / "tracks.png"
    cv2.imwrite(str(sheet), np.vstack(lines))
    return sheet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("videos", type=Path, nargs="+")
    ap.add_argument("--every", type=int, default=30)
    ap.add_argument("--length", type=int, default=50)
    ap.add_argument("--min-motion", type=float, default=0.1)
    a = ap.parse_args()
    if a.out.exists():
        raise InputError(f"{a.out} exists; remove it or pick another folder")
    missing = [v for v in a.videos if not v.is_file()]
    if missing:
        raise InputError(f"{missing[0]}: no such video; install or extract its package first (see the recipe)")
    unreadable = [v for v in a.videos if not cv2.VideoCapture(str(v)).read()[0]]   # before any work
    if unreadable:
        raise InputError(f"{unreadable[0]}: no frame can be read from it; pass a video file OpenCV decodes")
    names: list[str] = []
    from rich.progress import track
    for v in track(a.videos, description="labelling"):
        got = label_video(v, a.out, a.every, a.length, a.min_motion)
        print(f"{v.name}: {len(got)} tracks, {sum(got.values())} frames", flush=True)
        names += got
    (a.out / "list.txt").write_text("".join(n + "\n" for n in names))
    marker = {"split": "train", "source": "real_video_labels.py", "videos": [str(v) for v in a.videos],
              "every": a.every, "length": a.length, "min_motion": a.min_motion}
    (a.out / "synth.json").write_text(json.dumps(marker, indent=1))
    sheet = contact_sheet(a.out, names)
    print(f"{len(names)} sequences in {a.out}" + (f"; check them by eye: {sheet}" if sheet else ""))


if __name__ == "__main__":
    run_script(main)
