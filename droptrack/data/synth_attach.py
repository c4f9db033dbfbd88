"""The opt-in hard attribute `attached`: the target runs on seamlessly into an extension cut from the same photo.

On real footage a target often continues into a region of the same appearance (a face into the neck, a rider into
the bike), and the tracker has to end the box where the template's box ends, not where the texture does. attach_cut
re-cuts the target where its photo continues past it on one side (below, above, left or right) and keeps the next
0.5-1.5x the target's side of the photo; extension_layer makes that a layer drawn just under the target, moving,
scaling and rotating rigidly with it, so the seam is invisible. The extension is a trapezoid: its width at the seam
is 0.55-1x the target's width there (0.3-0.7x for elliptical targets, whose extension starts hidden under the
ellipse, like a neck under a chin), at the far end 0.5-1.2x, and it leans up to 0.1x sideways. Ground truth stays
the target's own pixels: like an occluder, the extension never changes the box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from droptrack.data.synth_render import Layer, most_textured

SIDES = ("below", "above", "left", "right")
LENGTH = (0.5, 1.5)  # extension length / the target's side along the attached direction
PAD = 0.2  # source margin across the extension on each side, / the target's width across (room for flare and lean)


@dataclass(frozen=True)
class Attachment:
    """A target's source crop grown by its extension, and the extension's shape (widths as fractions of the
    target's width across the attached side)."""

    rgb: np.ndarray  # float32 crop holding the target's rect and the extension's source pixels
    box: tuple[int, int, int, int]  # the target's rect in rgb: x, y, w, h (source pixels)
    side: str  # one of SIDES
    length: int  # extension length along the side, source pixels
    seam: float  # width at the seam
    far: float  # width at the far end
    lean: float  # sideways shift of the far end
    ellipse: bool  # the target's alpha is an ellipse (the extension then starts under it)


def attach_cut(rng: np.random.Generator, photo: np.ndarray, target: Layer) -> Attachment:
    """Re-cut the target (same source size and alpha) where `photo` continues past it on a random side: the target
    layer takes the new pixels, the returned Attachment holds the surroundings its extension is drawn from."""
    ph, pw = photo.shape[:2]
    sh, sw = target.alpha.shape
    ellipse = bool(target.alpha[0, 0] < 0.5)
    side = SIDES[int(rng.integers(len(SIDES)))]
    vertical = side in ("below", "above")
    along, across, room = (sh, sw, ph - sh) if vertical else (sw, sh, pw - sw)
    length = max(2, min(room, round(rng.uniform(*LENGTH) * along)))
    pad = math.ceil(PAD * across)
    # ranges of the target's top-left corner that leave room for the extension and its margins
    if vertical:
        xr, yr = (pad, pw - sw - pad), ((0, ph - sh - length) if side == "below" else (length, ph - sh))
    else:
        yr, xr = (pad, ph - sh - pad), ((0, pw - sw - length) if side == "right" else (length, pw - sw))
    x, y = most_textured(rng, photo, sh, sw, xr, yr)   # as synth_render.object_cut picks the target
    target.rgb = photo[y:y + sh, x:x + sw].astype(np.float32)
    x0, y0, x1, y1 = {"below": (x - pad, y, x + sw + pad, y + sh + length),
                      "above": (x - pad, y - length, x + sw + pad, y + sh),
                      "right": (x, y - pad, x + sw + length, y + sh + pad),
                      "left": (x - length, y - pad, x + sw, y + sh + pad)}[side]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(pw, x1), min(ph, y1)  # photos smaller than the margins
    seam = rng.uniform(0.3, 0.7) if ellipse else rng.uniform(0.55, 1.0)
    return Attachment(photo[y0:y1, x0:x1].astype(np.float32), (x - x0, y - y0, sw, sh), side, int(length), seam,
                      rng.uniform(0.5, 1.2), rng.uniform(-0.1, 0.1), ellipse)


def extension_alpha(att: Attachment, overlap: float) -> np.ndarray:
    """The extension's alpha over att.rgb: the trapezoid past the target's rect, reaching `overlap` source pixels
    back under the target so that rounding never opens a gap at the seam."""
    x, y, sw, sh = att.box
    rows, cols = np.mgrid[0:att.rgb.shape[0], 0:att.rgb.shape[1]] + 0.5
    u, v, across = {"below": (rows - (y + sh), cols - (x + sw / 2), sw),
                    "above": (y - rows, cols - (x + sw / 2), sw),
                    "right": (cols - (x + sw), rows - (y + sh / 2), sh),
                    "left": (x - cols, rows - (y + sh / 2), sh)}[att.side]
    f = np.clip(u / att.length, 0.0, 1.0)
    half = 0.5 * across * (att.seam + (att.far - att.seam) * f)
    inside = (u >= -overlap) & (u < att.length) & (np.abs(v - att.lean * across * f) <= half)
    return inside.astype(np.float32)


def extension_layer(att: Attachment, target: Layer) -> Layer:
    """The extension as a layer that follows the target's final path, size, rotation, velocity (so the same
    motion blur) and gain; drawn just under the target, it never changes the target's box."""
    x, y, sw, sh = att.box
    ch, cw = att.rgb.shape[:2]
    sx, sy = target.w / sw, target.h / sh  # display pixels per source pixel, per frame
    vertical = att.side in ("below", "above")
    along = sh if vertical else sw
    overlap = min(0.5 * along, max(1.0, 2.5 / float(np.min(sy if vertical else sx))))  # >= 2.5 display px
    if att.ellipse:
        overlap = max(overlap, 0.25 * along)  # the ellipse there is wider than the extension: hidden under it
    dx, dy = (cw / 2 - x - sw / 2) * sx, (ch / 2 - y - sh / 2) * sy  # crop centre - target centre
    if target.angle is not None:  # rotate the offset as cv2.getRotationMatrix2D rotates the patch
        rad = np.radians(target.angle)
        dx, dy = np.cos(rad) * dx + np.sin(rad) * dy, -np.sin(rad) * dx + np.cos(rad) * dy
    return Layer(att.rgb, extension_alpha(att, overlap), target.cx + dx, target.cy + dy, cw * sx, ch * sy,
                 target.vx.copy(), target.vy.copy(), target.gain, target.active.copy(),
                 None if target.angle is None else target.angle.copy())
