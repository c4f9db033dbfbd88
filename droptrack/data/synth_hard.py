"""Hard attributes for `dt data synth --attributes`: vocabulary, per-sequence choice, source splits, and the planner.

A sequence planned here carries exactly the attributes it is tagged with (an untagged sequence is a plain target
on a panning photo). Tags follow the shared vocabulary (ATTRIBUTES); each one is made true of the data:
full_occlusion = an opaque occluder hides the whole target for several frames, then it is visible again;
out_of_view = the target leaves the frame entirely and comes back; small_target = box area < 1000 px² in every
frame; aspect_ratio = the box is tall or wide (1:4..1:2 or 2:1..4:1) while the target is whole and unrotated;
camera_zoom / camera_shake move the whole scene; low_light always comes with sensor noise (tagged `noise` too).
A difficulty (DIFFICULTIES) sets how many attributes stack on one val/test sequence and how strong each one is:
`hard` (the default, the version-3 sets) gives each sequence one attribute in turn plus each other one with
p = min(0.25, 3/N) (about 4 of all 15, 1-5 in the shipped test sets), at full strength; `moderate` gives each
sequence one main attribute, sometimes a second, at milder strengths (issue 11's held-out set: CSRT's AUC in the
0.5-0.65 range).
Opt-in attributes (OPT_IN) are left out of `all` so sets made with `all` keep their bytes: ask for them by name
(`all,attached`, `attached`). attached = the target runs on seamlessly into an extension cut from the same photo,
not part of the box (synth_attach). silhouette = the target's alpha is an object-shaped region of its crop, the box
its extent (synth_shape). in_scene = the target is a still part of the scene, cut in place from the background
and moved only by the camera (synth_scene; it drops the attributes that would move it on its own, NOT_WITH). attached
and silhouette are never drawn together (the extension is seamless only against a rectangle or
ellipse): where both are chosen, a val/test sequence keeps the one whose turn it is, any other an even-numbered
sequence drops attached and an odd one silhouette.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from droptrack.data.synth_attach import attach_cut, extension_layer
from droptrack.data.synth_render import (ASPECT_LOG, TRAIN_PHOTOS, VAL_PHOTOS, Layer, Plan, background_canvas,
                                         crossing_occluder, load_photo, motion_path, object_cut, random_walk, restyle)
from droptrack.data.synth_scene import NOT_WITH, scene_target
from droptrack.data.synth_shape import silhouette_cut
from droptrack.errors import InputError

ATTRIBUTES = ("full_occlusion", "partial_occlusion", "distractors", "camouflage", "small_target", "camera_zoom",
              "camera_shake", "rotation", "low_light", "noise", "blur", "fast_motion", "out_of_view",
              "aspect_ratio", "deformation")
OPT_IN = ("attached", "silhouette", "in_scene")  # named only: `all` stays ATTRIBUTES, its sets unchanged byte for byte
VOCABULARY = ATTRIBUTES + OPT_IN
MIN_SIZE = (320, 180)
MIN_FRAMES = 30
TRAIN_P = 0.25  # training: each listed attribute is drawn independently with this probability
SMALL_AREA = 800.0  # small targets: bound on the (rotated) extent's area, under the 1000 px² of the tag

# Debian opencv-doc photos, split into disjoint groups (stereo / before-after pairs stay in one group). The videos
# there are never used: vtest.avi is reserved as an independent test, Megamind*.avi and tree.avi for real-video checks.
DOC_TRAIN = ("Blender_Suzanne1.jpg", "Blender_Suzanne2.jpg", "HappyFish.jpg", "aloeL.jpg", "aloeR.jpg", "baboon.jpg",
             "box.png", "box_in_scene.png", "butterfly.jpg", "cards.png", "ela_original.jpg", "ela_modified.jpg",
             "graf1.png", "graf3.png", "licenseplate_motion.jpg", "messi5.jpg", "pca_test1.jpg", "pic2.png",
             "pic4.png", "smarties.png", "starry_night.jpg", "sudoku.png", "stuff.jpg", "text_motion.jpg",
             "left01.jpg", "orange.jpg", "detect_blob.png", "ellipses.jpg")
DOC_VAL = ("apple.jpg", "home.jpg", "rubberwhale1.png", "rubberwhale2.png", "chicky_512.png", "leuvenA.jpg",
           "leuvenB.jpg")
DOC_TEST = ("aero1.jpg", "aero3.jpg", "basketball1.png", "basketball2.png", "fruits.jpg", "squirrel_cls.jpg",
            "board.jpg", "building.jpg")


@dataclass(frozen=True)
class Strength:
    """Per-sequence ranges of each attribute's strength, and how attributes stack on val/test sequences."""

    second_p: float | None  # val/test: None = extras drawn each with min(0.25, 3/len); else one extra with this p
    small_base: tuple[float, float]  # small_target: side of the target before the area bound, px
    zoom: tuple[float, float]  # camera_zoom: final (or initial) zoom factor
    shake: tuple[float, float]  # camera_shake: jolt std as a fraction of the frame width
    spin: tuple[float, float]  # rotation: degrees per frame
    dark: tuple[float, float]  # low_light: brightness gain at its darkest
    dark_noise: tuple[float, float]  # low_light: sensor noise std (grey levels)
    noise: tuple[float, float]  # noise: noise std (grey levels)
    defocus: tuple[float, float]  # blur: Gaussian sigma, px
    look_alikes: tuple[int, int]  # distractors: count, [lo, hi)
    stride: tuple[int, int]  # fast_motion: frames of the path skipped per frame, [lo, hi)
    aspect: tuple[float, float]  # aspect_ratio: w:h (or h:w), log-uniform
    speed: float = 1.0  # every sequence: scales the target path's jitter and top speed
    size_walk: float = 0.45  # every sequence: bound of the target's log-size walk
    shape_walk: float = 0.25  # every sequence (no aspect_ratio): bound of the target's log-aspect walk


DIFFICULTIES = {
    "hard": Strength(None, (12, 28), (1.4, 2.0), (0.008, 0.02), (1.0, 4.0), (0.15, 0.35), (4.0, 9.0), (12.0, 28.0),
                     (1.5, 3.5), (1, 4), (2, 4), (2.5, 3.3)),
    "moderate": Strength(0.35, (22, 32), (1.2, 1.5), (0.003, 0.008), (0.5, 2.0), (0.25, 0.45), (3.0, 6.0),
                         (6.0, 14.0), (1.0, 2.5), (1, 3), (2, 3), (2.0, 3.8), 0.5, 0.3, 0.1),
}
HARD_SOURCES = {
    "train": TRAIN_PHOTOS + tuple(f"doc:{p}" for p in DOC_TRAIN) + ("mpl:grace_hopper.jpg",),
    "val": VAL_PHOTOS + tuple(f"doc:{p}" for p in DOC_VAL),
    "test": tuple(f"doc:{p}" for p in DOC_TEST),
}


def parse_attributes(text: str) -> tuple[str, ...]:
    """'none' -> (), 'all' -> ATTRIBUTES, 'all,attached' -> ATTRIBUTES plus that opt-in one, 'a,b' -> (a, b) in
    vocabulary order; unknown names, and 'all' or 'none' next to names they already cover, are errors."""
    names = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    if not names:   # '' or ',' (an empty shell variable) would silently make a set without any attribute
        raise InputError(f"--attributes {text!r} names no attribute; pass none, all or a comma-separated list")
    if names == ["none"]:
        return ()
    bad = [t for t in names if t not in VOCABULARY + ("all", "none")]
    if bad:
        raise InputError(f"unknown attribute {bad[0]!r}; use none, all or a comma-separated list of: "
                         f"{', '.join(ATTRIBUTES)}, or the opt-in {', '.join(OPT_IN)} (e.g. all,{OPT_IN[0]})")
    if "none" in names:
        raise InputError(f"--attributes {text!r} mixes none with attributes; pass none alone, or only the list")
    if "all" in names:
        covered = [t for t in names if t in ATTRIBUTES]
        if covered:
            raise InputError(f"--attributes {text!r}: all already includes {covered[0]!r}; pass all alone or add "
                             f"only opt-in attributes ({', '.join(OPT_IN)}), e.g. all,{OPT_IN[0]}")
        names = list(ATTRIBUTES) + names
    return tuple(a for a in VOCABULARY if a in names)


def check_attributes(attributes: tuple[str, ...], size: tuple[int, int], frames: int) -> None:
    """Reject settings under which the listed attributes cannot be made true."""
    if not attributes:
        return
    if size[0] < MIN_SIZE[0] or size[1] < MIN_SIZE[1]:
        raise InputError(f"--attributes need frames of at least {MIN_SIZE[0]}x{MIN_SIZE[1]} (got {size[0]}x{size[1]}: "
                         "small targets, zoom and exits need room); pass e.g. --size 640x360")
    if frames < MIN_FRAMES:
        raise InputError(f"--attributes need at least {MIN_FRAMES} frames per sequence (got {frames}: occlusions "
                         "and exits must end and the target reappear); raise --frames")


def choose_attributes(rng: np.random.Generator, attributes: tuple[str, ...], index: int, split: str,
                      strength: Strength = DIFFICULTIES["hard"]) -> tuple[str, ...]:
    """This sequence's tags: training draws each independently; val/test cycle through the list (so every listed
    attribute appears) and add a few more at random (`moderate`: at most one more, with probability second_p)."""
    main = attributes[index % len(attributes)] if split != "train" else ""   # val/test: this sequence's turn
    if strength.second_p is not None and main:
        chosen = {main}
        others = [a for a in attributes if a not in chosen]
        if others and rng.random() < strength.second_p:
            chosen.add(others[int(rng.integers(len(others)))])
        return _tags(chosen, index, main)
    draws = rng.random(len(attributes))
    if split == "train":
        chosen = {a for a, u in zip(attributes, draws) if u < TRAIN_P}
    else:
        p = min(0.25, 3.0 / len(attributes))
        chosen = {main} | {a for a, u in zip(attributes, draws) if u < p}
    return _tags(chosen, index, main)


def _tags(chosen: set[str], index: int, main: str = "") -> tuple[str, ...]:
    """The chosen names as tags in vocabulary order: low_light brings noise; attached and silhouette never together
    (the sequence's `main` attribute stays, else the index decides: no draw, so the sets made without silhouette
    keep their bytes)."""
    if "low_light" in chosen:
        chosen.add("noise")
    if "in_scene" in chosen and chosen & set(NOT_WITH):  # a still part of the scene: nothing moves it on its own
        if main in NOT_WITH:
            chosen.discard("in_scene")
        else:
            chosen -= set(NOT_WITH)
    if {"attached", "silhouette"} <= chosen:
        keep = main if main in ("attached", "silhouette") else ("silhouette" if index % 2 == 0 else "attached")
        chosen.discard("attached" if keep == "silhouette" else "silhouette")
    return tuple(a for a in VOCABULARY if a in chosen)


def _smooth_ramp(n: int, t0: int, dur: int) -> np.ndarray:
    """0 before t0, 1 after t0 + dur, a smoothstep between."""
    s = np.clip((np.arange(n) - t0) / max(dur, 1), 0.0, 1.0)
    return s * s * (3 - 2 * s)


def _set_path(layer: Layer, cx: np.ndarray, cy: np.ndarray) -> None:
    """New centres; velocities (which drive motion blur) follow them."""
    layer.cx, layer.cy = cx, cy
    layer.vx, layer.vy = np.diff(cx, prepend=cx[0]), np.diff(cy, prepend=cy[0])


def _camera_view(layer: Layer, shift: np.ndarray, zoom: np.ndarray, W: int, H: int) -> None:
    """Scene coordinates -> image coordinates under camera pan `shift` and zoom about the image centre."""
    layer.cx = W / 2 + zoom * (layer.cx - shift[:, 0] - W / 2)
    layer.cy = H / 2 + zoom * (layer.cy - shift[:, 1] - H / 2)
    layer.w, layer.h, layer.vx, layer.vy = layer.w * zoom, layer.h * zoom, layer.vx * zoom, layer.vy * zoom


def _shrink_small(t: Layer, rotates: bool) -> None:
    """Scale a small target down frame by frame so its (rotated) box stays under SMALL_AREA px²."""
    extent = (t.w + 2) ** 2 + (t.h + 2) ** 2 if rotates else (t.w + 1) * (t.h + 1)
    s = np.minimum(1.0, np.sqrt(SMALL_AREA / extent))
    t.w, t.h = np.maximum(3.0, t.w * s), np.maximum(3.0, t.h * s)


def _look_alikes(rng: np.random.Generator, n: int, W: int, tgt: Layer,
                 count: tuple[int, int]) -> tuple[list[Layer], list[Layer]]:
    """Recoloured copies of the target that cross its path (straight relative motion); some pass in front."""
    behind, front = [], []
    for _ in range(int(rng.integers(*count))):
        t_mid = int(rng.integers(n // 6, n - n // 6))
        ang, speed = rng.uniform(0, 2 * math.pi), rng.uniform(0.006, 0.02) * W
        side = rng.normal(0.0, 0.15) * math.sqrt(tgt.w[t_mid] * tgt.h[t_mid])
        k = np.arange(n) - t_mid
        cx = tgt.cx + k * speed * math.cos(ang) - side * math.sin(ang)
        cy = tgt.cy + k * speed * math.sin(ang) + side * math.cos(ang)
        s = rng.uniform(0.85, 1.15)
        rgb = np.clip(tgt.rgb * rng.uniform(0.85, 1.15, 3), 0, 255).astype(np.float32)
        layer = Layer(rgb, tgt.alpha, cx, cy, tgt.w * s, tgt.h * s, tgt.vx, tgt.vy, tgt.gain.copy(),
                      np.ones(n, bool), None if tgt.angle is None else tgt.angle + rng.uniform(-20, 20))
        _set_path(layer, cx, cy)
        (front if rng.random() < 0.35 else behind).append(layer)
    return behind, front


def _exit_and_return(rng: np.random.Generator, n: int, W: int, H: int, tgt: Layer) -> None:
    """Move the target entirely out through the nearest edge, keep it out a few frames, bring it back."""
    t0 = int(rng.integers(n // 5, int(0.4 * n)))
    k1, stay, k2 = (int(rng.integers(lo, hi)) for lo, hi in ((4, 9), (3, 8), (4, 9)))
    t0 -= max(0, t0 + k1 + stay + k2 - (n - 1))  # short sequences: start earlier so it is back by the last frame
    t1, t2, t3 = t0 + k1, t0 + k1 + stay, t0 + k1 + stay + k2
    ext = 0.5 * float(np.hypot(tgt.w, tgt.h).max()) + 16.0
    cx, cy = tgt.cx.copy(), tgt.cy.copy()
    gaps = [cx[t0], W - cx[t0], cy[t0], H - cy[t0]]
    out = [(-ext, cy[t0]), (W + ext, cy[t0]), (cx[t0], -ext), (cx[t0], H + ext)][int(np.argmin(gaps))]
    for t in range(t0, t3 + 1):
        if t < t1:
            s = (t - t0) / k1
            cx[t], cy[t] = (1 - s) * tgt.cx[t0] + s * out[0], (1 - s) * tgt.cy[t0] + s * out[1]
        elif t < t2:
            cx[t], cy[t] = out
        else:
            s = (t - t2) / k2
            cx[t], cy[t] = (1 - s) * out[0] + s * tgt.cx[t3], (1 - s) * out[1] + s * tgt.cy[t3]
    _set_path(tgt, cx, cy)


def _full_occluder(rng: np.random.Generator, n: int, photo: np.ndarray, tgt: Layer) -> Layer:
    """An opaque patch that slides over the target, hides all of it for a few frames, then slides away."""
    t0 = int(rng.integers(int(0.5 * n), int(0.7 * n)))
    dur, r = int(rng.integers(4, max(5, n // 8) + 1)), 4
    dur = min(dur, n - 6 - r - t0)
    win = slice(max(0, t0 - r), t0 + dur + r + 1)
    side = 1.15 * float(np.hypot(tgt.w[win], tgt.h[win]).max()) + 8.0
    rgb, alpha = object_cut(rng, photo, 1.0, False)
    ang = rng.uniform(0, 2 * math.pi)
    t = np.arange(n)
    off = 1.3 * side * (np.clip((t0 - t) / r, 0, 1) + np.clip((t - (t0 + dur - 1)) / r, 0, 1))
    cx, cy = tgt.cx + off * math.cos(ang), tgt.cy + off * math.sin(ang)
    active = (t >= t0 - r) & (t <= t0 + dur - 1 + r) & (t > 0)
    zeros = np.zeros(n)  # no motion blur: its alpha stays opaque to the edge
    return Layer(rgb, alpha, cx, cy, np.full(n, side), np.full(n, side), zeros, zeros, np.ones(n), active)


def _aspect_and_base(rng: np.random.Generator, W: int, H: int, a: set[str], aspect_log: float,
                     st: Strength) -> tuple[float, float]:
    """The target's aspect ratio (w:h) and base side in pixels (small with small_target)."""
    if "aspect_ratio" in a:
        aspect = math.exp(rng.uniform(math.log(st.aspect[0]), math.log(st.aspect[1])) * rng.choice([-1.0, 1.0]))
    else:
        aspect = math.exp(rng.uniform(-aspect_log, aspect_log))
    return aspect, rng.uniform(0.12, 0.35) * min(W, H) if "small_target" not in a else rng.uniform(*st.small_base)


def _target(rng: np.random.Generator, n: int, W: int, H: int, photo: np.ndarray, a: set[str],
            aspect_log: float, st: Strength) -> Layer:
    """The target: shape, size walk (non-rigid with deformation), path (2-3x faster with fast_motion), rotation."""
    aspect, base = _aspect_and_base(rng, W, H, a, aspect_log, st)
    rgb, alpha = object_cut(rng, photo, aspect, bool(rng.random() < 0.5))
    if "silhouette" in a:
        rgb, alpha = silhouette_cut(rng, rgb)
    ls = random_walk(rng, n, 0.02, st.size_walk)
    la = random_walk(rng, n, 0.01, 0.03 if "aspect_ratio" in a else st.shape_walk)
    if "deformation" in a:
        period, amp = rng.uniform(8, 24), rng.uniform(0.06, 0.12) * (0.5 if "aspect_ratio" in a else 1.0)
        la = la + amp * np.sin(2 * math.pi * np.arange(n) / period + rng.uniform(0, 2 * math.pi))
    w = np.maximum(6.0, base * math.sqrt(aspect) * np.exp(ls + la))
    h = np.maximum(6.0, base / math.sqrt(aspect) * np.exp(ls - la))
    stride = int(rng.integers(*st.stride)) if "fast_motion" in a else 1
    cs, vs = motion_path(rng, n * stride, W, H, base, None, st.speed)
    cs, vs = cs[::stride], vs[::stride] * stride
    gain = np.exp(random_walk(rng, n, 0.02, 0.1 if "camouflage" in a else 0.35))
    angle = None
    if "rotation" in a:
        walk = random_walk(rng, n, 0.6, 40.0)
        angle = rng.uniform(*st.spin) * rng.choice([-1.0, 1.0]) * np.arange(n) + walk - walk[0]
    return Layer(rgb, alpha, cs[:, 0], cs[:, 1], w, h, vs[:, 0], vs[:, 1], gain, np.ones(n, bool), angle)


def plan_hard(rng: np.random.Generator, n: int, size: tuple[int, int], photos: tuple[str, ...],
              cache: dict[str, np.ndarray], attributes: tuple[str, ...],
              restyle_rng: np.random.Generator | None = None, gray: float = 0.3,
              aspect_log: float = ASPECT_LOG, strength: Strength = DIFFICULTIES["hard"]) -> Plan:
    """Every random choice of one sequence with these attributes (see the module docstring for what each means)."""
    W, H = size
    st = strength
    a = set(attributes)
    bg_name, tgt_name, occ_name = (str(p) for p in rng.choice(photos, 3, replace=len(photos) < 3))
    names = {"background": bg_name, "target": tgt_name, "occluder": occ_name}
    looks = {role: load_photo(name, cache) for role, name in names.items()}
    if restyle_rng is not None:
        looks = {role: restyle(restyle_rng, img, role == "target", gray) for role, img in looks.items()}
    if "camouflage" in a:  # the target is cut from the background's own photo, in the same look
        names["target"], looks["target"] = bg_name, looks["background"]
    bg = looks["background"]
    canvas, m = background_canvas(rng, bg, W, H)
    pan = np.stack([m + random_walk(rng, n, 0.6, m), m + random_walk(rng, n, 0.6, m)], axis=1)
    if "camera_shake" in a:
        jolt = rng.normal(0.0, rng.uniform(*st.shake) * W, (n, 2))
        pan = pan + 0.6 * jolt + 0.4 * np.roll(jolt, 1, axis=0)
    offsets = np.clip(np.rint(pan), 0, 2 * m).astype(int)
    zoom = np.ones(n)
    if "camera_zoom" in a:
        ramp = _smooth_ramp(n, int(rng.integers(n // 8, n // 2)), int(rng.integers(n // 4, n // 2)))
        zoom = 1.0 + (rng.uniform(*st.zoom) - 1.0) * (ramp if rng.random() < 0.5 else 1.0 - ramp)
    if "in_scene" in a:  # cut in place from the canvas, fixed in the scene (synth_scene)
        names["target"] = bg_name
        target = scene_target(rng, n, W, H, canvas, m, *_aspect_and_base(rng, W, H, a, aspect_log, st),
                              float(zoom.max()), SMALL_AREA if "small_target" in a else None)
    else:
        target = _target(rng, n, W, H, looks["target"], a, aspect_log, st)
    attachment = attach_cut(rng, looks["target"], target) if "attached" in a else None
    _camera_view(target, offsets - m, zoom, W, H)
    if "small_target" in a and "in_scene" not in a:
        _shrink_small(target, target.angle is not None)
    behind, front = _look_alikes(rng, n, W, target, st.look_alikes) if "distractors" in a else ([], [])
    if "out_of_view" in a:
        _exit_and_return(rng, n, W, H, target)
    if attachment is not None:  # drawn last under the target, over any look-alike
        behind.append(extension_layer(attachment, target))
    if "full_occlusion" in a:
        front.append(_full_occluder(rng, n, looks["occluder"], target))
    if "partial_occlusion" in a:
        front.append(crossing_occluder(rng, n, looks["occluder"], target, W))
    gain = np.exp(random_walk(rng, n, 0.01, 0.25))
    noise = np.zeros(n)
    if "low_light" in a:
        dark = rng.uniform(*st.dark)
        gain = gain * (dark if rng.random() < 0.5 else 1.0 - (1.0 - dark) * _smooth_ramp(n, n // 6, n // 4))
        noise[:] = rng.uniform(*st.dark_noise)
    if "noise" in a:
        noise = np.maximum(noise, rng.uniform(*st.noise))
    defocus = None
    if "blur" in a:
        t0 = int(rng.integers(0, n // 2))
        defocus = np.where((np.arange(n) >= t0) & (np.arange(n) < t0 + int(rng.integers(n // 3, n))),
                           rng.uniform(*st.defocus), 0.0)
    return Plan(canvas, offsets[:, 0], offsets[:, 1], gain, target, None, None, names, behind, front,
                None if "camera_zoom" not in a else zoom, noise if noise.any() else None, defocus,
                int(rng.integers(2 ** 31)))
