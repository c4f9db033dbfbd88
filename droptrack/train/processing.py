"""Official training processing (ostrack_spec.md 5.6): joint gray/flip, box jitter, crops, per-crop jitter."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from droptrack.config import Config
from droptrack.geometry import box_in_crop, crop_pad_mask, sample_target
from droptrack.train.targets import gaussian_map


class InvalidSample(Exception):
    """The pair cannot be used (empty crop, all padding): the dataset resamples."""


@dataclass
class Processing:
    """Sizes, factors and jitter of template and search crops, from the config."""

    template_size: int
    search_size: int
    template_factor: float
    search_factor: float
    template_jitter: tuple[float, float]  # (scale, centre)
    search_jitter: tuple[float, float]
    stride: int
    mean: np.ndarray
    std: np.ndarray
    augment: bool = True

    @classmethod
    def from_config(cls, cfg: Config, augment: bool = True) -> "Processing":
        d = cfg.DATA
        return cls(d.TEMPLATE.SIZE, d.SEARCH.SIZE, d.TEMPLATE.FACTOR, d.SEARCH.FACTOR,
                   (d.TEMPLATE.SCALE_JITTER, d.TEMPLATE.CENTER_JITTER), (d.SEARCH.SCALE_JITTER, d.SEARCH.CENTER_JITTER),
                   cfg.MODEL.BACKBONE.STRIDE, np.asarray(d.MEAN, np.float32).reshape(3, 1, 1),
                   np.asarray(d.STD, np.float32).reshape(3, 1, 1), augment)

    def _jitter(self, rng: np.random.Generator, box: np.ndarray, scale: float, centre: float) -> np.ndarray:
        wh = box[2:4] * np.exp(rng.standard_normal(2) * scale)
        max_off = np.sqrt(wh.prod()) * centre
        c = box[:2] + 0.5 * box[2:4] + max_off * (rng.random(2) - 0.5)
        return np.concatenate([c - 0.5 * wh, wh])

    def _crop(self, rng, frame, box, size, factor, jitter):
        jb = self._jitter(rng, box, *jitter) if self.augment else box
        if not np.all(np.isfinite(jb)) or jb[2] <= 0 or jb[3] <= 0:
            raise InvalidSample("bad jittered box")
        try:
            patch, rf = sample_target(frame, jb, factor, size)
        except Exception as exc:  # crop outside the image
            raise InvalidSample(str(exc)) from None
        mask = crop_pad_mask(jb, factor, frame.shape[:2], size)
        if mask.all():
            raise InvalidSample("crop is all padding")
        feat = size // self.stride
        if mask[::self.stride, ::self.stride][:feat, :feat].all():
            raise InvalidSample("feature-level crop is all padding")
        return patch, box_in_crop(box, jb, rf, size, normalize_out=True).astype(np.float32)

    def _finish(self, rng, patch: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        img = patch.astype(np.float32).transpose(2, 0, 1)
        if self.augment:
            # official ToTensorAndJitter: x * (f / 255) with the factor rounded once to float32, not (x * f) / 255
            img = np.clip(img * np.float32(rng.uniform(0.8, 1.2) / 255.0), 0.0, 1.0)
            if rng.random() < 0.5:
                img = img[:, :, ::-1]
                box = box.copy()
                box[0] = 1.0 - box[0] - box[2]
        else:
            img = img / 255.0
        return np.ascontiguousarray((img - self.mean) / self.std, dtype=np.float32), box

    def __call__(self, rng: np.random.Generator, t_frame: np.ndarray, t_box, s_frame: np.ndarray, s_box) -> dict:
        """One training sample: normalised crops, normalised search box and its Gaussian score-map target."""
        t_box = np.asarray(t_box, np.float64)
        s_box = np.asarray(s_box, np.float64)
        if self.augment:
            if rng.random() < 0.05:
                t_frame = np.repeat(cv2.cvtColor(t_frame, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
                s_frame = np.repeat(cv2.cvtColor(s_frame, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
            if rng.random() < 0.5:
                t_frame, s_frame = t_frame[:, ::-1], s_frame[:, ::-1]
                t_box = t_box.copy(); t_box[0] = t_frame.shape[1] - 1 - t_box[0] - t_box[2]  # noqa: E702
                s_box = s_box.copy(); s_box[0] = s_frame.shape[1] - 1 - s_box[0] - s_box[2]  # noqa: E702
                t_frame, s_frame = np.ascontiguousarray(t_frame), np.ascontiguousarray(s_frame)
        tp, tb = self._crop(rng, t_frame, t_box, self.template_size, self.template_factor, self.template_jitter)
        sp, sb = self._crop(rng, s_frame, s_box, self.search_size, self.search_factor, self.search_jitter)
        template, _ = self._finish(rng, tp, tb)
        search, sb = self._finish(rng, sp, sb)
        return {"template": template, "search": search, "search_anno": sb,
                "gt_map": gaussian_map(sb, self.search_size // self.stride)}
