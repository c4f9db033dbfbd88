"""The official OSTrack/DropTrack YAML schema as dataclasses (field names are the YAML keys).

YAML files list only what differs from these defaults (the official `lib/config/ostrack/config.py`);
an unknown key is an error naming the closest valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from droptrack.config_rules import MAX_DEPTH, RULES, Rule, check_size, check_value, shown
from droptrack.errors import ConfigError
from droptrack.paths import check_readable, check_regular

if TYPE_CHECKING:
    from droptrack.artifact import ArtifactMeta


@dataclass
class BackboneCfg:
    TYPE: str = "vit_base_patch16_224"
    STRIDE: int = 16
    MID_PE: bool = False
    SEP_SEG: bool = False
    CAT_MODE: str = "direct"
    MERGE_LAYER: int = 0
    ADD_CLS_TOKEN: bool = False
    CLS_TOKEN_USE_MODE: str = "ignore"
    CE_LOC: list = field(default_factory=list)
    CE_KEEP_RATIO: list = field(default_factory=list)
    CE_TEMPLATE_RANGE: str = "ALL"
    # droptrack extensions (None = take from TYPE): small widths for CPU models; STEM: model/mobilenet.StemEmbed
    EMBED_DIM: int | None = None
    DEPTH: int | None = None
    NUM_HEADS: int | None = None
    STEM: str = ""


@dataclass
class HeadCfg:
    TYPE: str = "CENTER"
    NUM_CHANNELS: int = 256


@dataclass
class ModelCfg:
    PRETRAIN_FILE: str = "mae_pretrain_vit_base.pth"
    EXTRA_MERGER: bool = False
    RETURN_INTER: bool = False
    RETURN_STAGES: list = field(default_factory=list)
    # droptrack extension: 'droptrack' adds backbone.temporal_pos_embed_x/_z; 'ostrack' does not.
    # When a checkpoint is loaded the variant is detected from its keys.
    VARIANT: str = "droptrack"
    BACKBONE: BackboneCfg = field(default_factory=BackboneCfg)
    HEAD: HeadCfg = field(default_factory=HeadCfg)


@dataclass
class SchedulerCfg:
    TYPE: str = "step"
    DECAY_RATE: float = 0.1


@dataclass
class TrainCfg:
    LR: float = 0.0001
    WEIGHT_DECAY: float = 0.0001
    EPOCH: int = 500
    LR_DROP_EPOCH: int = 400
    BATCH_SIZE: int = 16
    NUM_WORKER: int = 8
    OPTIMIZER: str = "ADAMW"
    BACKBONE_MULTIPLIER: float = 0.1
    GIOU_WEIGHT: float = 2.0
    L1_WEIGHT: float = 5.0
    FREEZE_LAYERS: list = field(default_factory=lambda: [0])
    PRINT_INTERVAL: int = 50
    VAL_EPOCH_INTERVAL: int = 20
    GRAD_CLIP_NORM: float = 0.1
    AMP: bool = False
    CE_START_EPOCH: int = 20
    CE_WARM_EPOCH: int = 80
    DROP_PATH_RATE: float = 0.1
    # droptrack extension: global batch the LR was tuned for (None = 4 x BATCH_SIZE, the official 32x4 recipe);
    # other global batches scale the LR linearly (OSTrack #15, #78)
    LR_REFERENCE_BATCH: int | None = None
    # droptrack extension: relational distillation from an ImageNet MobileNetV2 (train/distill.py); 0 = off
    DISTILL_WEIGHT: float = 0.0
    DISTILL_BLOCK: int = 1   # the backbone block whose output tokens are distilled
    SCHEDULER: SchedulerCfg = field(default_factory=SchedulerCfg)


@dataclass
class SplitCfg:
    DATASETS_NAME: list = field(default_factory=lambda: ["LASOT", "GOT10K_vottrain"])
    DATASETS_RATIO: list = field(default_factory=lambda: [1, 1])
    SAMPLE_PER_EPOCH: int = 60000
    BOX_WEIGHT: list = field(default_factory=list)   # extension: per dataset, the box losses' weight ([] = all 1)


@dataclass
class CropCfg:
    SIZE: int = 320
    FACTOR: float = 5.0
    CENTER_JITTER: float = 4.5
    SCALE_JITTER: float = 0.5
    NUMBER: int = 1


def _template_crop() -> CropCfg:
    return CropCfg(SIZE=128, FACTOR=2.0, CENTER_JITTER=0.0, SCALE_JITTER=0.0, NUMBER=1)


@dataclass
class DataCfg:
    SAMPLER_MODE: str = "causal"
    MEAN: list = field(default_factory=lambda: [0.485, 0.456, 0.406])
    STD: list = field(default_factory=lambda: [0.229, 0.224, 0.225])
    MAX_SAMPLE_INTERVAL: int = 200
    TRAIN: SplitCfg = field(default_factory=SplitCfg)
    VAL: SplitCfg = field(default_factory=lambda: SplitCfg(["GOT10K_votval"], [1], 10000))
    SEARCH: CropCfg = field(default_factory=CropCfg)
    TEMPLATE: CropCfg = field(default_factory=_template_crop)


@dataclass
class TestCfg:
    TEMPLATE_FACTOR: float = 2.0
    TEMPLATE_SIZE: int = 128
    SEARCH_FACTOR: float = 5.0
    SEARCH_SIZE: int = 320
    EPOCH: int = 500
    # droptrack tracker extensions (runtime/extensions.py), off by default = the official procedure
    SIZE_LR: float | None = None
    ASPECT_PENALTY: float = 0.0
    REACQ_FACTOR: float | None = None
    REACQ_THRESHOLD: float = 0.25
    REACQ_RECOVER: float = 0.5
    REACQ_FRAMES: int = 1
    REACQ_CENTER: str = "motion"
    TEMPLATE_REFRESH: float | None = None
    TEMPLATE_REFRESH_EVERY: int = 10
    SCALE_SEARCH: list[float] | None = None
    SCALE_PENALTY: float = 0.95
    SCALE_FUSE: float | None = None
    SCALE_GATE: float | None = None
    CROP_GRID: float | None = None
    WINDOW_POWER: float | None = None
    GRID_WINDOW: str = "crop"
    ANCHOR_SCALE: float | None = None
    ANCHOR_NCC: float | None = None
    ANCHOR_SIZE: str = "first"
    ANCHOR_GATE: float = 0.0
    ANCHOR_BOX: str = "state"
    ASPECT_PRIOR: float | None = None


@dataclass
class Config:
    MODEL: ModelCfg = field(default_factory=ModelCfg)
    TRAIN: TrainCfg = field(default_factory=TrainCfg)
    DATA: DataCfg = field(default_factory=DataCfg)
    TEST: TestCfg = field(default_factory=TestCfg)
    NAME: str = ""  # droptrack: the config's name (file stem), kept for artifacts


def _merge(obj: Any, data: dict, where: str) -> None:
    """Recursively set dataclass fields from a YAML mapping, rejecting unknown keys."""
    names = [f.name for f in dataclasses.fields(obj)]
    for key, value in data.items():
        if key not in names:
            upper = {n.upper(): n for n in names}   # 'train:' or 'lr_drop_epoch:' is the key in another case
            close = [upper[c] for c in difflib.get_close_matches(str(key)[:100].upper(), list(upper), n=1, cutoff=0.5)]
            hint = f"; did you mean '{where}{close[0]}'?" if close else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"unknown config key '{where}{str(key)[:60]}'{hint}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{where}{key}' must be a mapping, got {shown(value)}")
            _merge(current, value, f"{where}{key}.")
        else:
            setattr(obj, key, value)


def _type_rule(hint: Any) -> Rule:
    """The default rule of a dataclass field from its annotation (int, float, bool, str, list, X | None)."""
    optional = type(None) in typing.get_args(hint)
    base = next((a for a in typing.get_args(hint) if a is not type(None)), hint) if optional else hint
    return Rule(base if base in (int, float, bool, str, list) else str, optional=optional)


def _check_fields(obj: Any, where: str) -> None:
    """Check (and convert) every leaf field of a config dataclass against RULES or its annotation."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{where}{f.name}"
        if dataclasses.is_dataclass(value):
            _check_fields(value, key + ".")
        elif key != "NAME":
            setattr(obj, f.name, check_value(key, value, RULES.get(key) or _type_rule(hints[f.name])))


def _validate(cfg: Config) -> None:
    """Reject values of the wrong type, out of range or non-finite, and combinations that cannot work."""
    _check_fields(cfg, "")
    bb = cfg.MODEL.BACKBONE
    if len(bb.CE_LOC) != len(bb.CE_KEEP_RATIO):
        raise ConfigError(f"MODEL.BACKBONE.CE_LOC {bb.CE_LOC} and CE_KEEP_RATIO {bb.CE_KEEP_RATIO} need the same "
                          "length (one keep ratio per CE block)")
    for split in ("TRAIN", "VAL"):
        s = getattr(cfg.DATA, split)
        if len(s.DATASETS_NAME) != len(s.DATASETS_RATIO) or (s.DATASETS_RATIO and not sum(s.DATASETS_RATIO) > 0):
            raise ConfigError(f"DATA.{split}.DATASETS_NAME {s.DATASETS_NAME} and DATASETS_RATIO {s.DATASETS_RATIO} "
                              "need one ratio per dataset name and a positive sum of ratios")
        if split == "VAL" and s.BOX_WEIGHT:
            raise ConfigError("DATA.VAL.BOX_WEIGHT would do nothing: validation (--val-data) tracks whole sequences "
                              "and scores their success AUC, with no box loss to weigh; remove it "
                              "(DATA.TRAIN.BOX_WEIGHT weighs training's box losses)")
        if s.BOX_WEIGHT and len(s.BOX_WEIGHT) != len(s.DATASETS_NAME):
            raise ConfigError(f"DATA.{split}.BOX_WEIGHT {s.BOX_WEIGHT} needs one weight per dataset name "
                              f"{s.DATASETS_NAME} (or none: 1 for every dataset)")
    if cfg.TEST.REACQ_RECOVER < cfg.TEST.REACQ_THRESHOLD:
        raise ConfigError(f"TEST.REACQ_RECOVER {cfg.TEST.REACQ_RECOVER} is below TEST.REACQ_THRESHOLD "
                          f"{cfg.TEST.REACQ_THRESHOLD}; the recover score must be >= the threshold (hysteresis)")
    for name, size in (("DATA.SEARCH.SIZE", cfg.DATA.SEARCH.SIZE), ("DATA.TEMPLATE.SIZE", cfg.DATA.TEMPLATE.SIZE),
                       ("TEST.SEARCH_SIZE", cfg.TEST.SEARCH_SIZE), ("TEST.TEMPLATE_SIZE", cfg.TEST.TEMPLATE_SIZE)):
        if size % bb.STRIDE:
            raise ConfigError(f"{name}={size} is not a multiple of MODEL.BACKBONE.STRIDE={bb.STRIDE}; "
                              "use crop sizes divisible by the patch size")


def available_configs() -> list[str]:
    """Names of the configs shipped inside the package."""
    folder = resources.files("droptrack") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def names_a_file(name_or_path: str | Path) -> bool:
    """Whether a --config value names a YAML file (a .yaml / .yml path, or any path that exists) rather than a shipped
    config; a shipped name stays that config beside a folder of the name (a run's --output), which was read as it."""
    path = Path(os.path.expanduser(str(name_or_path)))
    if str(name_or_path) in available_configs() and path.is_dir():
        return False
    return path.suffix in (".yaml", ".yml") or path.exists()


def is_internal(name: str) -> bool:
    """A shipped config that exists for the test suite (e.g. 'tiny_ce_test'), not for users' models."""
    return name.endswith("_test")


def _network(cfg: Config) -> tuple:
    """What decides a network's weights and shapes: backbone, head and crop sizes (not training settings)."""
    return (config_to_dict(cfg)["MODEL"]["BACKBONE"], cfg.MODEL.HEAD.TYPE, cfg.MODEL.HEAD.NUM_CHANNELS,
            cfg.DATA.SEARCH.SIZE, cfg.DATA.TEMPLATE.SIZE)


def config_hint(typed: str, names: list[str], model: Config | None = None) -> str:
    """'did you mean ...?' for an unknown config name: configs that build `model`'s network first, then the other
    shipped ones; a test config only when the typed name is nearly its name."""
    public = [n for n in names if not is_internal(n)]
    fitting: list[str] = []
    if model is not None:
        net = _network(model)
        fitting = [n for n in public if _network(load_config(n)) == net]
    for pool, cutoff in ((names, 0.8), (fitting, 0.3), (public, 0.3)):   # a near-typo of any name: that name
        close = difflib.get_close_matches(typed, pool, n=1, cutoff=cutoff)
        if close:
            return f"did you mean '{close[0]}'?"
    if fitting:
        return f"configs that fit this model: {', '.join(fitting)}"
    return f"choose one of: {', '.join(public)}"


MAX_BYTES = 256 << 10   # a YAML config file; the shipped ones are under 5 KB


def config_from_dict(data: dict, name: str = "") -> Config:
    """Build a Config from a (possibly partial) nested dict in the official schema."""
    check_size(data, name or "from the model file")
    cfg, data = Config(), dict(data or {})
    data.pop("NAME", None)
    _merge(cfg, data, "")
    cfg.NAME = name
    _validate(cfg)
    return cfg


def load_config(name_or_path: str | Path, model: Config | None = None) -> Config:
    """Load a shipped config by name (e.g. 'vitb_384_mae_ce_32x4_ep300') or a YAML file by path (`model`: the config
    of the network being loaded, so that an unknown name's hint offers configs that build that network)."""
    path = Path(name_or_path)
    if names_a_file(name_or_path):
        check_regular("config file", path, ConfigError)
        if path.is_dir():   # it said 'not found' of a folder that is there
            raise ConfigError(f"config '{path}' is a folder, not a YAML file; pass the config YAML (a file in it) or "
                              f"one of: {', '.join(available_configs())}")
        if not path.is_file():
            if path.stem in available_configs():   # e.g. the official repo's experiments/ostrack/<name>.yaml
                raise ConfigError(f"config file '{path}' not found; the shipped config of that name is {path.stem}: "
                                  f"pass --config {path.stem}")
            raise ConfigError(f"config file '{path}' not found; pass an existing YAML or one of: "
                              f"{', '.join(available_configs())}")
        check_readable("config file", path)
        if path.stat().st_size > MAX_BYTES:   # PyYAML parses about 150 KB/s: a big file would hang first
            raise ConfigError(f"config '{path}' is {path.stat().st_size >> 10} KiB, larger than a tracker config "
                              f"can be ({MAX_BYTES >> 10} KiB at most; a shipped one is a few KB); pass the config "
                              "YAML, or start from a shipped config")
        try:
            text = path.read_text()
        except UnicodeDecodeError:   # e.g. a checkpoint passed as --config
            raise ConfigError(f"config '{path}' is not a text YAML file; pass a config YAML or a config name (a "
                              "checkpoint goes to --checkpoint / --pretrained)") from None
        name = path.stem
    else:
        names = available_configs()
        if str(name_or_path) not in names:
            raise ConfigError(f"unknown config '{name_or_path}'; {config_hint(str(name_or_path), names, model)}")
        text = (resources.files("droptrack") / "configs" / f"{name_or_path}.yaml").read_text()
        name = str(name_or_path)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except DuplicateKey as exc:
        raise ConfigError(f"config '{name_or_path}' sets {exc} twice; keep one of them") from None
    except (yaml.YAMLError, ValueError) as exc:   # ValueError: an integer of more than 4300 digits
        raise ConfigError(f"config '{name_or_path}' is not valid YAML ({exc.__class__.__name__}); fix the file") from None
    except RecursionError:
        raise ConfigError(f"config '{name_or_path}' is nested too deeply to read (more than {MAX_DEPTH} levels); "
                          "fix the file") from None
    if data is None:   # an empty or comments-only file would silently mean every default
        raise ConfigError(f"config '{name_or_path}' is empty; pass a config with its MODEL/TRAIN/TEST sections (or a "
                          f"shipped config name: {', '.join(available_configs())})")
    if not isinstance(data, dict):
        raise ConfigError(f"config '{name_or_path}' must be a YAML mapping of sections (MODEL:, DATA:, TRAIN:, TEST:); "
                          f"pass such a file or a shipped config name: {', '.join(available_configs())}")
    return config_from_dict(data, name=name)


class DuplicateKey(Exception):
    """A YAML mapping that sets one key twice (PyYAML keeps the last value without a word)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key set twice in one mapping (named with its line)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                continue
            if key in seen:
                raise DuplicateKey(f"'{key}' (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def config_to_dict(cfg: Config) -> dict:
    """Plain nested dict of a Config (for checkpoints and the resolved YAML next to outputs)."""
    return dataclasses.asdict(cfg)


def config_yaml(cfg: Config) -> bytes:
    """The resolved config as the YAML `save_config` writes."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False).encode()


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    from droptrack.artifact import atomic_write_bytes

    atomic_write_bytes(Path(path), config_yaml(cfg))


def meta_from_config(cfg, arch: str | None = None, **kw: Any) -> ArtifactMeta:
    """ArtifactMeta of a model built from `cfg` (test-time sizes and factors)."""
    from droptrack import __version__
    from droptrack.artifact import ArtifactMeta
    from droptrack.config_rules import TRACKER_EXT_RULES

    official = TestCfg()
    tracker = {k: getattr(cfg.TEST, k) for k in TRACKER_EXT_RULES if getattr(cfg.TEST, k) != getattr(official, k)}
    kw.setdefault("tracker", tracker)
    return ArtifactMeta(
        arch=arch or cfg.MODEL.VARIANT, config_name=cfg.NAME,
        template_size=int(cfg.TEST.TEMPLATE_SIZE), search_size=int(cfg.TEST.SEARCH_SIZE),
        template_factor=float(cfg.TEST.TEMPLATE_FACTOR), search_factor=float(cfg.TEST.SEARCH_FACTOR),
        stride=int(cfg.MODEL.BACKBONE.STRIDE), mean=[float(v) for v in cfg.DATA.MEAN],
        std=[float(v) for v in cfg.DATA.STD], ce=bool(cfg.MODEL.BACKBONE.CE_LOC),
        droptrack_version=__version__, **kw)
