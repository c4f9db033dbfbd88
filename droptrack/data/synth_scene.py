"""The opt-in hard attribute `in_scene`: the target is a still part of the scene, not an object pasted onto it.

On real footage many targets have no edge of their own against the scene: a pole in a row of trees, a window in a
facade, a face whose box stops at the hairline. Their box is defined by the first frame's box alone, and they move
only with the camera. scene_target cuts the target in place from the background canvas (the most textured of a few
candidate rectangles) and keeps it fixed in scene coordinates, so it moves only with the camera's pan, shake and
zoom, with no gain, blur or shape change of its own. Without zoom it is drawn pixel for pixel over the same pixels;
with zoom the two resamplings differ by under a pixel. Look-alikes, occluders and the frame-level attributes still
apply. Attributes that would move or change the target on its own (NOT_WITH) are dropped from an in_scene sequence.
"""

from __future__ import annotations

import math

import numpy as np

from droptrack.data.synth_render import Layer, most_textured

# attributes that move or change the target relative to the scene, or that need a pasted target
NOT_WITH = ("rotation", "deformation", "fast_motion", "out_of_view", "camouflage", "attached", "silhouette")


def scene_size(W: int, H: int, aspect: float, base: float, zmax: float,
               max_area: float | None) -> tuple[int, int]:
    """The target's width and height in scene pixels: `base` and `aspect` as for pasted targets, shrunk so that
    at the largest zoom it fits the view (and stays under `max_area` px² when one is given)."""
    w, h = base * math.sqrt(aspect), base / math.sqrt(aspect)
    s = min(1.0, 0.6 * W / (w * zmax), 0.6 * H / (h * zmax))
    if max_area is not None:
        s = min(s, math.sqrt(max_area / ((w + 1) * (h + 1))) / zmax)
    return max(6, int(w * s)), max(6, int(h * s))


def scene_target(rng: np.random.Generator, n: int, W: int, H: int, canvas: np.ndarray, m: int, aspect: float,
                 base: float, zmax: float, max_area: float | None) -> Layer:
    """A rectangle of the canvas (sized by scene_size), fixed in scene coordinates (the view at zero pan), placed so
    that it stays in view at the largest zoom; its pixels are the canvas's own, so it is drawn seamlessly."""
    w, h = scene_size(W, H, aspect, base, zmax, max_area)
    # centre offsets from the view centre that keep the box inside the view (minus the pan margin) at zoom zmax
    rx = max(0.0, (W / 2 - m) / zmax - w / 2)
    ry = max(0.0, (H / 2 - m) / zmax - h / 2)
    xs = (math.ceil(W / 2 - rx - w / 2), math.floor(W / 2 + rx - w / 2))
    ys = (math.ceil(H / 2 - ry - h / 2), math.floor(H / 2 + ry - h / 2))
    xs, ys = (xs[0], max(xs)), (ys[0], max(ys))
    left, top = most_textured(rng, canvas[m:m + H, m:m + W], h, w, xs, ys)
    rgb = canvas[m + top:m + top + h, m + left:m + left + w].astype(np.float32)
    still = np.zeros(n)
    return Layer(rgb, np.ones((h, w), np.float32), np.full(n, left + w / 2), np.full(n, top + h / 2),
                 np.full(n, float(w)), np.full(n, float(h)), still, still.copy(), np.ones(n), np.ones(n, bool))
