"""The fast host crop/normalisation gives the reference's bytes, and the tracker's boxes on a real clip equal a
loop written out from the reference geometry (official-style numpy crop, float math normalisation)."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.data.media import bundled_video
from droptrack.engine.base import to_numpy
from droptrack.geometry import clip_box, crop_params, decode_box, hann2d, map_box_back, normalize, sample_target
from droptrack.runtime.host_ops import Normalizer, crop_resize
from droptrack.runtime.sources import open_source
from droptrack.runtime.tracker import load_tracker


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    with open_source(bundled_video("bikes.mp4")) as src:
        return [f.image for f, _ in zip(src, range(25))]


def crop_cases(frames, n: int, seed: int = 0):
    """Boxes inside, across every border, tiny and larger than the frame, on real and random frames."""
    rng = np.random.default_rng(seed)
    for t in range(n):
        img = frames[t % len(frames)] if t % 3 else rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
        H, W = img.shape[:2]
        w, h = rng.uniform(2, W * (1.2 if t % 11 == 0 else 0.2)), rng.uniform(2, H * 0.2)
        if t % 2:   # anywhere, mostly crossing a border
            box = [rng.uniform(-0.5 * w, W - 0.5 * w), rng.uniform(-0.5 * h, H - 0.5 * h), w, h]
        else:       # near the centre, mostly inside
            box = [rng.uniform(0.3, 0.6) * W, rng.uniform(0.3, 0.6) * H, w, h]
        if t % 5 == 0:
            box[0], box[1] = W - w, H - h   # the right/bottom '+1' padding quirk
        yield img, box, float(rng.choice([2.0, 4.0])), int(rng.choice([80, 128, 160]))


def test_crop_and_normalize_are_byte_identical_to_reference(clip):
    nz = Normalizer((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    padded = 0
    for img, box, factor, size in crop_cases(clip, 120):
        ref_patch, ref_rf = sample_target(img, box, factor, size)
        patch, rf = crop_resize(img, box, factor, size)
        assert rf == ref_rf
        assert np.array_equal(patch, ref_patch)
        out = np.full((1, 3, size, size), np.nan, dtype=np.float32)   # every value must be written
        assert nz(patch, out) is out
        ref = normalize(ref_patch)
        assert out.tobytes() == ref.tobytes()
        p = crop_params(box, factor, img.shape[:2])
        padded += bool(p.pad_l or p.pad_r or p.pad_t or p.pad_b)
    assert 20 < padded < 100   # both paths (view and copyMakeBorder) are covered
    every_value = np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(16, 16, 3)
    assert nz(every_value).tobytes() == normalize(every_value).tobytes()


def test_normalizer_rejects_wrong_patches():
    nz = Normalizer((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    with pytest.raises(Exception, match="uint8"):
        nz(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        nz(np.zeros((8, 8, 3), np.uint8), np.zeros((3, 8, 16), np.float32)[:, :, ::2])


def reference_boxes(backend, frames, init) -> list[list[float]]:
    """The official test-time loop written out with the reference geometry (no runtime.host_ops)."""
    m = backend.meta
    window = hann2d(m.feat_size)
    z, _ = sample_target(frames[0], init, m.template_factor, m.template_size)
    template = normalize(z, m.mean, m.std)
    state, out = list(init), []
    for frame in frames[1:]:
        x, rf = sample_target(frame, state, m.search_factor, m.search_size)
        res = backend.infer(template, normalize(x, m.mean, m.std))
        boxes, _ = decode_box(window * to_numpy(res["score_map"]), to_numpy(res["size_map"]),
                              to_numpy(res["offset_map"]))
        pred = (boxes[0] * m.search_size / rf).tolist()
        state = clip_box(map_box_back(pred, state, m.search_size, rf), *frame.shape[:2], margin=10)
        out.append(state)
    return out


def test_tracker_boxes_on_real_clip_equal_reference_loop(clip):
    from droptrack.runtime.extensions import OFFICIAL

    tracker = load_tracker(None, ext=OFFICIAL)   # the embedded default model, its scale search off: the official loop
    H, W = clip[0].shape[:2]
    init = [W * 0.4, H * 0.35, W * 0.12, H * 0.25]
    tracker.initialize(clip[0], init)
    got = [tracker.track(f)[0] for f in clip[1:]]
    ref = reference_boxes(tracker.backend, clip, init)
    assert got == ref                   # exact float equality, frame by frame
    assert len({tuple(b) for b in got}) > 5   # the target moves: not a constant box


def test_prefetch_yields_the_same_frames_reraises_and_stops():
    import threading

    from droptrack.errors import SourceError
    from droptrack.runtime.readers import prefetch

    video = bundled_video("bikes.mp4")
    with open_source(video) as a, open_source(video) as b:
        direct = [(f.index, f.timestamp, f.image) for _, f in zip(range(30), a)]
        ahead = prefetch(b)
        got = [(f.index, f.timestamp, f.image) for _, f in zip(range(30), ahead)]
        ahead.close()                      # stops the decode thread before the source is released
    assert [g[:2] for g in got] == [d[:2] for d in direct]
    assert all(np.array_equal(g[2], d[2]) for g, d in zip(got, direct))
    assert not any(t.name == "droptrack-prefetch" for t in threading.enumerate())

    def failing():
        yield from direct[:2]
        raise SourceError("camera 9 stopped")

    seen = []
    with pytest.raises(SourceError, match="camera 9 stopped"):
        for f in prefetch(failing()):
            seen.append(f)
    assert len(seen) == 2                  # the frames before the error still arrive
