"""Allowed values of config keys and command-line options: type, range, finiteness, supported choices.

One place for value checks: `check_value` converts a value to its rule's type or raises a one-line ConfigError
naming the key, the value and the allowed range. RULES lists the config keys that need more than their type.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from droptrack.errors import ConfigError, shown

VARIANTS = ("droptrack", "ostrack")


@dataclass(frozen=True)
class Rule:
    """The allowed values of one config key or command-line option: type, range, finiteness, choices."""

    kind: type                      # int, float, bool, str or list
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False           # lo itself excluded
    hi_open: bool = False
    optional: bool = False          # None allowed
    item: "Rule | None" = None      # rule of each list item
    length: int | None = None       # exact list length
    most: int | None = None         # longest list allowed
    choices: tuple = ()             # the only accepted values (refused otherwise)
    why: str = ""                   # why only these choices

    def describe(self) -> str:
        """The allowed range in words, for error messages."""
        if self.choices:
            text = "one of " + ", ".join(repr(c) for c in self.choices) if len(self.choices) > 1 \
                else repr(self.choices[0])
            return text + (f" ({self.why})" if self.why else "")
        if self.kind is list:
            n = f"{self.length} " if self.length is not None else f"at most {self.most} " if self.most else ""
            text = f"a list of {n}" + (self.item.describe().replace("a finite number", "finite numbers")
                                       .replace("an integer", "integers").replace("a string", "strings") if self.item else "values")
        else:
            text = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}[self.kind]
            low, high = (v if isinstance(v, int) or v is None else f"{v:g}" for v in (self.lo, self.hi))   # 4294967295
            lo = None if self.lo is None else f"{'>' if self.lo_open else '>='} {low}"
            hi = None if self.hi is None else f"{'<' if self.hi_open else '<='} {high}"
            if lo and hi:
                text += f" in {'(' if self.lo_open else '['}{low}, {high}{')' if self.hi_open else ']'}"
            elif lo or hi:
                text += f" {lo or hi}"
        return text + (" or null" if self.optional else "")


def _coerce(value: Any, rule: Rule) -> Any:
    """`value` converted to the rule's type, or a ValueError naming what is wrong."""
    if value is None:
        if rule.optional:
            return None
        raise ValueError("is missing")
    if rule.kind is bool:
        if not isinstance(value, bool):
            raise ValueError("is not true or false")
        return value
    if rule.kind is int:   # NumPy's integers too (numbers.Integral), never True / False
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError("is not an integer")
        return int(value)
    if rule.kind is float:
        if isinstance(value, str):  # PyYAML reads 1e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ValueError("is not a number") from None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):   # NumPy's floats too
            raise ValueError("is not a number")
        if not math.isfinite(value):
            raise ValueError("is not finite")
        return float(value)
    if rule.kind is str:
        if not isinstance(value, str):
            raise ValueError("is not a string")
        return value
    if getattr(value, "ndim", None) == 1 and hasattr(value, "tolist"):   # a NumPy array of the numbers
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise ValueError("is not a list")
    if (rule.length is not None and len(value) != rule.length) or (rule.most is not None and len(value) > rule.most):
        raise ValueError(f"has {len(value)} items")
    return [_coerce(v, rule.item) for v in value] if rule.item else list(value)


def _in_range(value: Any, rule: Rule) -> bool:
    if value is None:  # _coerce let it through: the rule is optional
        return True
    if rule.choices:
        return value in rule.choices
    if rule.kind is list:
        return rule.item is None or all(_in_range(v, rule.item) for v in value)
    if rule.kind not in (int, float):
        return True
    if rule.lo is not None and (value < rule.lo or (rule.lo_open and value == rule.lo)):
        return False
    return rule.hi is None or not (value > rule.hi or (rule.hi_open and value == rule.hi))


def text_number(value: Any, rule: Rule) -> bool:
    """Whether a Python value gives text where `rule` wants numbers (`_coerce` reads text numbers for YAML, whose
    1e-4 is a string; the Python API's dicts are refused them)."""
    rule = rule.item if rule.kind is list and rule.item is not None else rule
    items = value if isinstance(value, (list, tuple)) else [value]
    return rule.kind in (int, float) and any(isinstance(v, (str, bytes)) for v in items)


def check_value(name: str, value: Any, rule: Rule) -> Any:
    """`value` of config key or option `name`, converted to the rule's type; ConfigError naming key, value, range."""
    try:
        out = _coerce(value, rule)
    except ValueError as exc:
        raise ConfigError(f"{name}: {shown(value)} {exc}; allowed: {rule.describe()}") from None
    if not _in_range(out, rule):
        what = "is not supported" if rule.choices else "is out of range"
        raise ConfigError(f"{name}: {shown(value)} {what}; allowed: {rule.describe()}")
    return out


def _only(*values: Any, why: str = "the only value droptrack implements") -> Rule:
    kind = type(values[0]) if not isinstance(values[0], list) else list
    return Rule(kind, choices=values, why=why)


_POS_INT = Rule(int, lo=1)
_NONNEG = Rule(float, lo=0)
_POS = Rule(float, lo=0, lo_open=True)
# crops and their jitter, in target sizes (official: factors 2 template / 4-5 search, centre jitter 0 / 3-4.5, scale
# jitter 0 / 0.25-0.5, a log-normal sigma); far past these the target leaves the crop or shrinks to a pixel (a factor
# of 1e-200 made the crop side 0 and its scale infinite: an OverflowError at the first frame)
_FACTOR = Rule(float, lo=0.5, hi=10)
_CENTER_JITTER = Rule(float, lo=0, hi=10)
_SCALE_JITTER = Rule(float, lo=0, hi=1)
# Rules beyond the field's type (the type of every other key comes from its dataclass annotation).
RULES: dict[str, Rule] = {
    "MODEL.VARIANT": _only(*VARIANTS, why="droptrack adds temporal embeddings, ostrack does not"),
    "MODEL.EXTRA_MERGER": _only(False), "MODEL.RETURN_INTER": _only(False), "MODEL.RETURN_STAGES": _only([]),
    "MODEL.BACKBONE.STRIDE": _POS_INT,
    "MODEL.BACKBONE.MID_PE": _only(False), "MODEL.BACKBONE.SEP_SEG": _only(False),
    "MODEL.BACKBONE.CAT_MODE": _only("direct", why="the official ViT-CE backbones concatenate template and search "
                                                    "directly"),
    "MODEL.BACKBONE.MERGE_LAYER": _only(0), "MODEL.BACKBONE.ADD_CLS_TOKEN": _only(False),
    "MODEL.BACKBONE.CLS_TOKEN_USE_MODE": _only("ignore"),
    "MODEL.BACKBONE.CE_LOC": Rule(list, item=Rule(int, lo=0)),
    "MODEL.BACKBONE.CE_KEEP_RATIO": Rule(list, item=Rule(float, lo=0, hi=1, lo_open=True)),
    "MODEL.BACKBONE.CE_TEMPLATE_RANGE": _only("ALL", "CTR_POINT", why="the configurations the tracker uses"),
    "MODEL.BACKBONE.EMBED_DIM": Rule(int, lo=1, optional=True),
    "MODEL.BACKBONE.DEPTH": Rule(int, lo=1, optional=True),
    "MODEL.BACKBONE.NUM_HEADS": Rule(int, lo=1, optional=True),
    "MODEL.BACKBONE.STEM": _only("", "mobilenetv2", why="'' is the official patch conv, 'mobilenetv2' a frozen "
                                 "ImageNet stem"),
    "MODEL.HEAD.TYPE": _only("CENTER"), "MODEL.HEAD.NUM_CHANNELS": Rule(int, lo=8),
    "TRAIN.LR": _POS, "TRAIN.WEIGHT_DECAY": _NONNEG, "TRAIN.EPOCH": _POS_INT, "TRAIN.LR_DROP_EPOCH": _POS_INT,
    "TRAIN.BATCH_SIZE": _POS_INT, "TRAIN.NUM_WORKER": Rule(int, lo=0),
    "TRAIN.OPTIMIZER": _only("ADAMW", why="the official code supports only AdamW"),
    "TRAIN.BACKBONE_MULTIPLIER": _NONNEG, "TRAIN.GIOU_WEIGHT": _NONNEG, "TRAIN.L1_WEIGHT": _NONNEG,
    "TRAIN.FREEZE_LAYERS": _only([0], why="the official code ignores this key"),
    "TRAIN.PRINT_INTERVAL": _POS_INT, "TRAIN.VAL_EPOCH_INTERVAL": _POS_INT, "TRAIN.GRAD_CLIP_NORM": _NONNEG,
    "TRAIN.CE_START_EPOCH": Rule(int, lo=0), "TRAIN.CE_WARM_EPOCH": Rule(int, lo=0),
    "TRAIN.DROP_PATH_RATE": Rule(float, lo=0, hi=1, hi_open=True),
    "TRAIN.LR_REFERENCE_BATCH": Rule(int, lo=1, optional=True),
    "TRAIN.DISTILL_WEIGHT": _NONNEG, "TRAIN.DISTILL_BLOCK": Rule(int, lo=0),
    "TRAIN.SCHEDULER.TYPE": _only("step", why="StepLR at LR_DROP_EPOCH, the official schedule"),
    "TRAIN.SCHEDULER.DECAY_RATE": _only(0.1, why="the official code ignores it and always decays by 0.1"),
    "DATA.SAMPLER_MODE": _only("causal", why="the official OSTrack sampler"),
    "DATA.MEAN": Rule(list, item=Rule(float), length=3), "DATA.STD": Rule(list, item=_POS, length=3),
    "DATA.MAX_SAMPLE_INTERVAL": _POS_INT,
    "TEST.TEMPLATE_FACTOR": _FACTOR, "TEST.SEARCH_FACTOR": _FACTOR, "TEST.TEMPLATE_SIZE": _POS_INT,
    "TEST.SEARCH_SIZE": _POS_INT, "TEST.EPOCH": _POS_INT,
}
# droptrack tracker extensions (runtime/extensions.py): TEST keys, also `dt run` options; null/absent = official
TRACKER_EXT_RULES: dict[str, Rule] = {
    "SIZE_LR": Rule(float, lo=0, hi=10, lo_open=True, optional=True),
    "ASPECT_PENALTY": _NONNEG,
    "REACQ_FACTOR": Rule(float, lo=1, hi=20, optional=True),
    "REACQ_THRESHOLD": Rule(float, lo=0, hi=1),
    "REACQ_RECOVER": Rule(float, lo=0, hi=1),
    "REACQ_FRAMES": _POS_INT,
    "REACQ_CENTER": _only("last", "motion", why="the last confident box or its constant-velocity prediction"),
    "TEMPLATE_REFRESH": Rule(float, lo=0, hi=1, optional=True),
    "TEMPLATE_REFRESH_EVERY": _POS_INT,
    "SCALE_SEARCH": Rule(list, item=Rule(float, lo=0.25, hi=4.0), optional=True, most=8),   # crops per target
    "SCALE_PENALTY": Rule(float, lo=0, hi=1, lo_open=True),
    "SCALE_FUSE": Rule(float, lo=0, hi=1, optional=True),
    "SCALE_GATE": Rule(float, lo=0, hi=1, lo_open=True, optional=True),
    "CROP_GRID": Rule(float, lo=0, hi=0.25, lo_open=True, optional=True),
    "WINDOW_POWER": Rule(float, lo=0, hi=4, optional=True),
    "GRID_WINDOW": _only("crop", "target", why="with CROP_GRID, the cosine window centred on the grid crop or on "
                         "the target's previous position"),
    "ANCHOR_SCALE": Rule(float, lo=1, hi=4, optional=True),
    "ANCHOR_NCC": Rule(float, lo=0, hi=1, lo_open=True, optional=True),
    "ANCHOR_SIZE": _only("first", "network", why="with ANCHOR_SCALE, the scale filter follows its own size from the "
                         "first frame or is evaluated at the network's box each frame"),
    "ANCHOR_GATE": Rule(float, lo=0, hi=1),
    "ANCHOR_BOX": _only("state", "report", why="the anchor's box becomes the tracker's state (the next crop follows "
                        "it) or is only reported (the state stays the network's box)"),
    "ASPECT_PRIOR": Rule(float, lo=0, hi=1, optional=True),
}
RULES.update({f"TEST.{k}": v for k, v in TRACKER_EXT_RULES.items()})
for _split in ("TRAIN", "VAL"):
    RULES[f"DATA.{_split}.DATASETS_NAME"] = Rule(list, item=Rule(str))
    RULES[f"DATA.{_split}.DATASETS_RATIO"] = Rule(list, item=_NONNEG)
    RULES[f"DATA.{_split}.BOX_WEIGHT"] = Rule(list, item=Rule(float, lo=0, hi=1))
    RULES[f"DATA.{_split}.SAMPLE_PER_EPOCH"] = _POS_INT
for _crop in ("SEARCH", "TEMPLATE"):
    RULES.update({f"DATA.{_crop}.SIZE": _POS_INT, f"DATA.{_crop}.FACTOR": _FACTOR,
                  f"DATA.{_crop}.CENTER_JITTER": _CENTER_JITTER, f"DATA.{_crop}.SCALE_JITTER": _SCALE_JITTER,
                  f"DATA.{_crop}.NUMBER": _only(1, why="one template and one search frame, as the official configs")})


MAX_VALUES = 10_000   # a config has a few hundred; YAML aliases (or a pickle's shared objects) can expand to billions
MAX_DEPTH = 32


def check_size(data: Any, what: str) -> None:
    """A config's values counted as written out (aliases expanded), without expanding them: too many or too deeply
    nested -> one-line ConfigError (a 'billion laughs' file would otherwise hang while it is read or reported)."""
    count, stack = 0, [(data, 0)]
    while stack:
        obj, depth = stack.pop()
        count += 1
        if count > MAX_VALUES or depth > MAX_DEPTH:
            raise ConfigError(f"config '{what}' holds more than {MAX_VALUES} values or is nested more than "
                              f"{MAX_DEPTH} levels deep (YAML aliases count each time they are used); this is not "
                              "a tracker config: fix the file or start from a shipped config")
        if isinstance(obj, dict):
            stack.extend((v, depth + 1) for v in obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend((v, depth + 1) for v in obj)
