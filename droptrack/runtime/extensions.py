"""Opt-in tracker extensions beyond the official procedure (config TEST keys / `dt run` options; issue 11).

* Score-gated size smoothing (the classic Siamese-tracker scale update): the new box keeps the predicted
  centre; width and height move from the previous box toward the prediction at rate
  lr = min(1, SIZE_LR * peak score * exp(-ASPECT_PENALTY * (aspect change - 1))), aspect change = max(r/r', r'/r)
  >= 1. SIZE_LR above 1 leaves confident frames (score >= 1/SIZE_LR) at the prediction and damps only the others.
* Re-acquisition: after REACQ_FRAMES consecutive frames with a peak score below REACQ_THRESHOLD, the search
  crop is taken with factor REACQ_FACTOR (resized to the same input size, so the network is unchanged) around
  the last confident box (REACQ_CENTER 'last') or its constant-velocity prediction ('motion'); the normal crop
  around the current box returns once the score reaches REACQ_RECOVER (hysteresis).
* Confidence-gated template refresh: when the peak score is at least TEMPLATE_REFRESH and the last refresh is
  TEMPLATE_REFRESH_EVERY frames back or more, the template is cropped again around the new box; never while
  re-acquisition still searches wide (the target counts as lost there until REACQ_RECOVER).
* Scale search (the SiamFC scale pyramid on top of OSTrack's box head): besides the normal crop, one crop per
  factor s in SCALE_SEARCH around the same centre with search factor * s (s < 1: the target is drawn larger);
  all go through the network in one batch and the crop with the highest peak score wins, a non-unit scale's
  peak multiplied by SCALE_PENALTY first. It undoes the failure where the box has grown past the target: the
  model was trained with the target at about a quarter of the crop and does not find one drawn smaller.
  With SCALE_FUSE the winner's box is replaced by the mean of the target's crops' boxes that overlap it by an IoU of
  at least SCALE_FUSE (the winner's always counts), each weighted by its (penalised) peak: two views of one target
  give two estimates of its box, and their mean is less noisy than either (null: the winner's box alone).
* Crop grid (issue 13): each search window's side goes to the nearest rung of a ladder of ratio 1 + CROP_GRID, its
  corner to a multiple of CROP_GRID x side, and the box is mapped back from that window's real centre (the official
  map-back uses the unrounded one). Two runs whose states differ by less than a step (FP16 or INT8 against FP32,
  or any float-order noise) then take the same crop, so per-frame errors stop compounding into a different track.
* Window power: the score map is multiplied by the official cosine window raised to WINDOW_POWER (1 = official;
  below 1 a softer motion prior, so a peak far from the previous position can win; above 1 a stronger one, so a
  look-alike away from it loses more). Every crop's window, scale search's too.

* First-frame anchor (ANCHOR_* keys; `runtime.anchor`): a DSST scale filter bounds the box's size and the first
  frame's template, found by NCC near the box, moves its centre; ANCHOR_BOX 'report' keeps it out of the state.

With every switch key absent (SIZE_LR, REACQ_FACTOR, TEMPLATE_REFRESH, SCALE_SEARCH, CROP_GRID, WINDOW_POWER and the
ANCHOR keys null) nothing here runs and the tracker is the official one. Plain Python floats: the host `Tracker` and
the CUDA `DeviceTracker` call the same code.
"""

from __future__ import annotations

import itertools
from dataclasses import InitVar, dataclass, field

import numpy as np

from droptrack.config import TestCfg
from droptrack.config_rules import TRACKER_EXT_RULES, check_value, text_number
from droptrack.errors import ConfigError, InputError, shown
from droptrack.geometry import box_iou, clip_box
from droptrack.runtime.anchor import TargetAnchor, anchor_words, anchored, start_anchors
from droptrack.runtime.box_shape import smooth_size, toward_aspect
from droptrack.runtime.crop_grid import box_centre, grid_anchor, window_shift
from droptrack.runtime.score_windows import moved_windows

# the switch keys set to None: every extension off, the official procedure (`dt run --official`, tuning baselines)
OFFICIAL: dict[str, None] = {"SIZE_LR": None, "REACQ_FACTOR": None, "TEMPLATE_REFRESH": None, "SCALE_SEARCH": None,
                             "CROP_GRID": None, "WINDOW_POWER": None, "ANCHOR_SCALE": None, "ANCHOR_NCC": None,
                             "ASPECT_PRIOR": None}
# TEST key -> (TrackerExt attribute, `dt run` option)
KEYS: dict[str, tuple[str, str]] = {key: (key.lower(), "--" + key.lower().replace("_", "-"))
                                    for key in TRACKER_EXT_RULES}


@dataclass(frozen=True)
class TrackerExt:
    """The extension settings (defaults = the official procedure); field names are the TEST keys lower-cased."""

    size_lr: float | None = TestCfg.SIZE_LR  # defaults: the config's, one source
    aspect_penalty: float = TestCfg.ASPECT_PENALTY
    reacq_factor: float | None = TestCfg.REACQ_FACTOR
    reacq_threshold: float = TestCfg.REACQ_THRESHOLD
    reacq_recover: float = TestCfg.REACQ_RECOVER
    reacq_frames: int = TestCfg.REACQ_FRAMES
    reacq_center: str = TestCfg.REACQ_CENTER
    template_refresh: float | None = TestCfg.TEMPLATE_REFRESH
    template_refresh_every: int = TestCfg.TEMPLATE_REFRESH_EVERY
    scale_search: tuple[float, ...] | None = TestCfg.SCALE_SEARCH
    scale_penalty: float = TestCfg.SCALE_PENALTY
    scale_fuse: float | None = TestCfg.SCALE_FUSE
    scale_gate: float | None = TestCfg.SCALE_GATE
    crop_grid: float | None = TestCfg.CROP_GRID
    window_power: float | None = TestCfg.WINDOW_POWER
    grid_window: str = TestCfg.GRID_WINDOW
    anchor_scale: float | None = TestCfg.ANCHOR_SCALE
    anchor_ncc: float | None = TestCfg.ANCHOR_NCC
    anchor_size: str = TestCfg.ANCHOR_SIZE
    anchor_gate: float = TestCfg.ANCHOR_GATE
    anchor_box: str = TestCfg.ANCHOR_BOX
    aspect_prior: float | None = TestCfg.ASPECT_PRIOR
    _checked: InitVar[bool] = False   # from_keys: the values are checked already, in its own words

    def __post_init__(self, _checked: bool = False) -> None:
        """Check the values given directly (`TrackerExt(size_lr=20)`) as the API's `ext` dict is checked: a one-line
        InputError naming the field (it went unchecked into the tracker); then hold SCALE_SEARCH as a tuple."""
        if not _checked:
            try:
                for key, (attr, _) in KEYS.items():
                    object.__setattr__(self, attr, api_value(f"TrackerExt {attr}", key, getattr(self, attr)))
            except ConfigError as exc:
                raise InputError(str(exc)) from None
            if self.reacq_recover < self.reacq_threshold:
                raise InputError(f"TrackerExt reacq_recover {self.reacq_recover} is below reacq_threshold "
                                 f"{self.reacq_threshold}; the recover score must be >= the threshold (hysteresis)")
        if self.scale_search is not None:   # hashable and read-only; an empty list means off
            object.__setattr__(self, "scale_search", tuple(float(s) for s in self.scale_search) or None)

    @property
    def active(self) -> bool:
        """Whether anything differs from the official procedure."""
        return any(getattr(self, key.lower()) is not None for key in OFFICIAL)

    def describe(self) -> str:
        """The procedure in a few words, for run summaries (what a user is running: official or not)."""
        parts = []
        if self.size_lr is not None:
            parts.append(f"size smoothing {self.size_lr:g}" + (f", aspect penalty {self.aspect_penalty:g}"
                                                               if self.aspect_penalty else ""))
        parts += [f"re-acquisition x{self.reacq_factor:g} ({self.reacq_center})"] if self.reacq_factor else []
        parts += [f"template refresh at {self.template_refresh:g}"] if self.template_refresh is not None else []
        if self.scale_search is not None:
            parts.append(f"scale search {', '.join(f'{s:g}' for s in self.scale_search)} "
                         f"(penalty {self.scale_penalty:g}" + (f", boxes fused at IoU {self.scale_fuse:g}"
                                                              if self.scale_fuse is not None else "")
                         + (f", gated at {self.scale_gate:g})" if self.scale_gate is not None else ")"))
        if self.crop_grid is not None:
            parts.append(f"crop grid {self.crop_grid:g}" + (", window on the target" if self.moves_window else ""))
        parts += [f"window power {self.window_power:g}"] if self.window_power is not None else []
        parts += [anchor_words(self)] if anchored(self) else []
        parts += [f"aspect prior {self.aspect_prior:g} (reported box)"] if self.aspect_prior is not None else []
        return "official procedure" if not parts else "official + " + "; ".join(parts)

    @property
    def moves_window(self) -> bool:
        """Whether each crop's cosine window is centred on the target's previous position instead of the crop's
        centre (GRID_WINDOW 'target' with a grid; without one the two coincide)."""
        return self.crop_grid is not None and self.grid_window == "target"

    @property
    def scales(self) -> tuple[float, ...]:
        """Search-factor multipliers of each target's crops: the normal crop (1.0) first, then SCALE_SEARCH."""
        return (1.0,) + (self.scale_search or ())

    @classmethod
    def from_keys(cls, keys: dict, option_names: bool = False) -> "TrackerExt":
        """From TEST-style keys ({'SIZE_LR': 0.6, ...}); bad values raise a one-line ConfigError naming the key
        (or the `dt run` option with `option_names`)."""
        ext = cls(**check_keys(keys, option_names), _checked=True)
        if ext.reacq_recover < ext.reacq_threshold:
            raise ConfigError(f"REACQ_RECOVER (--reacq-recover) {ext.reacq_recover} is below REACQ_THRESHOLD "
                              f"(--reacq-threshold) {ext.reacq_threshold}; the recover score must be >= the "
                              "threshold (hysteresis)")
        return ext


# the keys whose options take 'off' (--scale-search off): the switch keys that take null, and SCALE_FUSE
OFF_TEXT = ("SCALE_SEARCH", "CROP_GRID", "WINDOW_POWER", "SCALE_FUSE", "SCALE_GATE", "ANCHOR_SCALE", "ANCHOR_NCC",
            "ASPECT_PRIOR")


def check_keys(keys: dict, option_names: bool = False, prefix: str = "TEST.") -> dict:
    """TrackerExt attribute -> checked value of TEST-style keys; one-line ConfigError naming the key (after `prefix`:
    'ext ' for the Python API's dict) or option (an option's value as typed, '0.1,0.8' not "['0.1', '0.8']", and 'off'
    where a YAML key takes null)."""
    values = {}
    for key, value in (keys or {}).items():
        if key not in KEYS:
            raise ConfigError(f"unknown tracker extension '{key}'; valid: {', '.join(KEYS)}")
        attr, option = KEYS[key]
        if not option_names:
            values[attr] = (check_value(f"{prefix}{key}", value, TRACKER_EXT_RULES[key]) if prefix == "TEST." else
                            api_value(f"{prefix}{key}", key, value))
            continue
        try:
            values[attr] = check_value(option, value, TRACKER_EXT_RULES[key])
        except ConfigError as exc:
            raise ConfigError(_as_typed(str(exc), option, key, value)) from None
    return values


def api_value(name: str, key: str, value: object) -> object:
    """`value` of TEST key `key` given in Python (the API's `ext` dict, a TrackerExt field: `name`), checked and
    converted; text is refused where numbers go, and the ConfigError names Python's None, not YAML's null."""
    try:
        if text_number(value, TRACKER_EXT_RULES[key]):
            what = "holds text, not numbers" if isinstance(value, (list, tuple)) else "is not a number"
            raise ConfigError(f"{name}: {shown(value)} {what}; allowed: {TRACKER_EXT_RULES[key].describe()}")
        return check_value(name, value, TRACKER_EXT_RULES[key])
    except ConfigError as exc:   # a Python dict's "off" is None, a YAML file's null
        text = str(exc)
        raise ConfigError(text.removesuffix(" or null") + " or None" if text.endswith(" or null") else text) from None


def _as_typed(message: str, option: str, key: str, value: object) -> str:
    """check_value's message for a command-line option: the value as typed, and null (a YAML word) as 'off' where
    the option takes it, else left out (a number option is left out to keep the model's value)."""
    typed = (",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else
             f"{value:g}" if isinstance(value, float) else str(value))
    message = message.replace(f"{option}: {shown(value)}", f"{option}: {typed}", 1)
    if message.endswith(" or null"):
        message = message.removesuffix(" or null") + (" or off" if key in OFF_TEXT else "")
    return message


def option_args(keys: dict) -> list[str]:
    """The `dt run` options that give these TEST-style keys (what the options gave them: --official when every
    switch key is there, a switch key's None as 'off'), e.g. for a printed next command."""
    def text(v) -> str:
        return ",".join(f"{x:g}" for x in v) if isinstance(v, (list, tuple)) else f"{v:g}" if isinstance(
            v, float) else str(v)

    official = set(OFFICIAL) <= set(keys or {})
    args = ["--official"] if official else []
    for key, value in (keys or {}).items():
        said_by_official = official and key in OFFICIAL
        takes_off = key in OFFICIAL or key in OFF_TEXT
        if value is None and (said_by_official or not takes_off):
            continue
        args += [KEYS[key][1], "off" if value is None else text(value)]
    return args


HISTORY = 1024   # frames of TargetMemory.history kept (at most twice that between trims)


@dataclass
class TargetMemory:
    """What re-acquisition remembers of one target: the last confident box, its velocity, the lost count."""

    confident: list[float]
    velocity: tuple[float, float] = (0.0, 0.0)
    since: int = 0           # frames since the last confident one
    low: int = 0             # consecutive frames under the threshold
    wide: bool = False       # searching with REACQ_FACTOR
    refreshed: int = 0       # frames since the template was (re)cropped
    history: list[bool] = field(default_factory=list)   # wide flag of the last HISTORY tracked frames (tests)
    anchor: TargetAnchor | None = None   # ANCHOR_SCALE / ANCHOR_NCC: the first frame's template and scale filter
    aspect: float | None = None          # ASPECT_PRIOR: the init box's w / h
    peak: float = 0.0        # SCALE_GATE: the normal crop's peak on the last tracked frame (0 after init)

    def to_dict(self) -> dict:
        """JSON-safe state (without `history`, which only tests and reports read): `dt run --resume`'s journal, read
        back by `runtime.snapshot.memory_from_dict`."""
        return {"confident": [float(v) for v in self.confident], "velocity": [float(v) for v in self.velocity],
                "since": self.since, "low": self.low, "wide": self.wide, "refreshed": self.refreshed,
                **({"anchor": self.anchor.to_dict()} if self.anchor is not None else {}),
                **({"aspect": float(self.aspect)} if self.aspect is not None else {}),
                **({"peak": float(self.peak)} if self.peak else {})}


class Extensions:
    """Per-target extension state for a tracker: the crop to take and the state update after decoding."""

    def __init__(self, ext: TrackerExt, search_factor: float):
        self.ext = ext
        self.search_factor = search_factor
        self.memory: list[TargetMemory] = []
        self.shifts: list[tuple[float, float]] = []   # per crop of the last `crops`: target - crop centre
        self.counts: list[int] = []   # per target: its crops in the last `crops` batch
        self.starts: list[int] = []   # per target: the index of its first (normal) crop in that batch

    def reset(self, states: list[list[float]], frame=None) -> None:
        """New targets (initialisation): confident at their init boxes, their first-frame anchors started on `frame`."""
        memory = [self._memory(s) for s in states]
        if frame is not None:   # before the memory is replaced: an anchor that fails leaves it as it was
            start_anchors(memory, frame, states, self.ext.anchor_ncc, self.ext.anchor_scale)
        self.memory = memory

    def extend(self, states: list[list[float]]) -> None:
        """Targets added to the running ones."""
        self.memory += [self._memory(s) for s in states]

    def _memory(self, init: list[float]) -> TargetMemory:
        """A new target's memory: confident at its init box, whose w / h ASPECT_PRIOR keeps."""
        on = self.ext.aspect_prior is not None and init[3] > 0
        return TargetMemory(list(init), aspect=float(init[2]) / float(init[3]) if on else None)

    def reported(self, index: int, box: list[float], image_hw: tuple[int, int]) -> list[float]:
        """Target `index`'s box as reported: ASPECT_PRIOR's shape toward the init box's, clipped; else `box`."""
        aspect, prior = self.memory[index].aspect, self.ext.aspect_prior
        return box if prior is None or aspect is None else clip_box(toward_aspect(box, aspect, prior), *image_hw)

    def remove(self, index: int) -> None:
        """Forget target `index`."""
        del self.memory[index]

    def wide(self) -> list[bool]:
        """Per target, whether re-acquisition searches wide now: the state its next frame's crop is taken in (a
        frame with no search of its own, the init frame or an unreadable one, reports it)."""
        return [m.wide for m in self.memory]

    def crop_counts(self) -> list[int]:
        """Search crops per target on the next frame, consecutive in the batch: 1 + the scale-search factors, or
        the normal crop alone where SCALE_GATE is set and the target's last normal crop scored at least it."""
        gate, every = self.ext.scale_gate, len(self.ext.scales)
        return [1 if gate is not None and m.peak >= gate else every for m in self.memory]

    def crops(self, states: list[list[float]], image_hw: tuple[int, int]) -> tuple[list[list[float]], list[float]]:
        """The box each search crop is centred on and sized by, and its factor (official: the state, SEARCH_FACTOR);
        `crop_counts` consecutive crops per target (scale search: the same box, the factor times each scale)."""
        anchors, factors, shifts, moves = [], [], [], self.ext.moves_window
        self.counts = self.crop_counts()
        self.starts = list(itertools.accumulate(self.counts, initial=0))[:-1]
        for state, mem, count in zip(states, self.memory, self.counts):
            anchor, factor = list(state), self.search_factor
            if mem.wide:
                anchor = mem.confident
                if self.ext.reacq_center == "motion":
                    vx, vy = mem.velocity
                    anchor = [anchor[0] + vx * mem.since, anchor[1] + vy * mem.since, anchor[2], anchor[3]]
                anchor, factor = clip_box(anchor, *image_hw, margin=10), float(self.ext.reacq_factor)
            for scale in self.ext.scales[:count]:
                anchors.append(grid_anchor(anchor, factor * scale, self.ext.crop_grid))
                factors.append(factor * scale)
                if moves:   # only GRID_WINDOW 'target' reads them (`windows`)
                    shifts.append(window_shift(anchor, anchors[-1], factor * scale))
        self.shifts = shifts
        return anchors, factors

    def windows(self, feat_size: int) -> np.ndarray | None:
        """(N,1,F,F) per-crop score windows of the last `crops`, centred on each target's previous position
        (GRID_WINDOW 'target'); None: every crop uses the tracker's one window."""
        if not self.ext.moves_window:
            return None
        return moved_windows(feat_size, [(sx * feat_size, sy * feat_size) for sx, sy in self.shifts],
                             self.ext.window_power)

    def select(self, peaks) -> list[int]:
        """Per target, the index (in the batch) of the crop that wins the scale search: the highest peak, a
        non-unit scale's multiplied by SCALE_PENALTY (ties: the normal crop); notes the normal crop's peak, which
        SCALE_GATE reads on the next frame."""
        chosen = []
        for mem, start, n in zip(self.memory, self.starts, self.counts):
            scored = self._scored(peaks[start:start + n])
            mem.peak = float(peaks[start])
            chosen.append(start + max(range(n), key=scored.__getitem__))   # first of equal maxima
        return chosen

    def _scored(self, peaks) -> list[float]:
        """One target's crops' peaks as the scale search weighs them: a non-unit scale's times SCALE_PENALTY."""
        return [float(p) * (1.0 if j == 0 else self.ext.scale_penalty) for j, p in enumerate(peaks)]

    def fuse(self, boxes: list[list[float]], peaks, chosen: int) -> list[float]:
        """One target's box from its crops' mapped-back `boxes` and `peaks` (in crop order) and the winning crop
        `chosen` (`select`): with SCALE_FUSE the (penalised-)peak-weighted mean of the boxes whose IoU with the
        winner's is at least SCALE_FUSE; without it, or with no weight, the winner's box."""
        win = boxes[chosen]
        if self.ext.scale_fuse is None:
            return list(win)
        weights = np.asarray(self._scored(peaks))
        iou = box_iou(np.asarray(boxes, np.float64), np.asarray([win], np.float64))
        joined = (iou >= self.ext.scale_fuse) | (np.arange(len(boxes)) == chosen)
        w = np.where(joined, np.maximum(weights, 0.0), 0.0)
        if not w.sum() > 0:
            return list(win)
        return [float(v) for v in (np.asarray(boxes, np.float64) * w[:, None]).sum(0) / w.sum()]

    def refresh(self, index: int, score: float) -> bool:
        """Whether target `index` gets a new template on this frame (call once per frame, after `update`)."""
        ext, mem = self.ext, self.memory[index]
        if ext.template_refresh is None or score < ext.template_refresh or mem.refreshed < ext.template_refresh_every:
            return False
        if mem.wide:   # still lost for re-acquisition: a box found in the wide crop is not trusted as a template
            return False
        mem.refreshed = 0
        return True

    def update(self, index: int, prev: list[float], pred: list[float], score: float,
               image_hw: tuple[int, int]) -> list[float]:
        """The new state from the mapped-back (unclipped) prediction: size smoothing, clip, re-acquisition state."""
        ext, mem = self.ext, self.memory[index]
        state = clip_box(smooth_size(prev, pred, score, ext), *image_hw, margin=10)
        mem.history.append(mem.wide)
        if len(mem.history) > 2 * HISTORY:   # bounded: an endless camera run must not grow with every frame
            del mem.history[:-HISTORY]
        mem.since += 1
        mem.refreshed += 1
        if score >= ext.reacq_recover:
            cx, cy = box_centre(state)
            px, py = box_centre(mem.confident)
            mem.velocity = ((cx - px) / mem.since, (cy - py) / mem.since)
            mem.confident, mem.since, mem.low, mem.wide = list(state), 0, 0, False
        elif score < ext.reacq_threshold:
            mem.low += 1
            if ext.reacq_factor is not None and mem.low >= ext.reacq_frames:
                mem.wide = True
        else:
            mem.low = 0
        return state
