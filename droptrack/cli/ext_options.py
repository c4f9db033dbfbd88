"""The tracker-extension options, shared by `dt run`, `dt serve`, `dt eval` and `dt bench` (same names and checks):
one table (`EXTENSION_OPTIONS`) and a decorator that appends them to a command, which receives them as `ext`."""

from __future__ import annotations

import functools
import inspect
from typing import Callable, Optional

import typer

EXT_PANEL = "Tracker extensions (opt-in; default: the model's)"   # a title wider than the terminal is cut


def ext_overrides(official: bool, **values) -> dict:
    """TEST-style extension keys from the extension options that were given (--official: all off); --scale-search
    is a comma list."""
    from droptrack.runtime.extensions import OFF_TEXT, OFFICIAL

    keys = dict(OFFICIAL) if official else {}
    for k, v in values.items():
        if k == "scale_search":
            v = scale_list(v)
        if v is not None:   # 'off' for a switch key (--scale-search off, --crop-grid off): that extension off
            keys[k.upper()] = None if k.upper() in (*OFFICIAL, *OFF_TEXT) and is_off(v) else v
    return keys


def is_off(value) -> bool:
    """Whether an option's text is 'off' (or 'none')."""
    return isinstance(value, str) and value.strip().lower() in ("off", "none")


def scale_list(text: str | None) -> list[str] | str | None:
    """--scale-search text -> its items (checked as numbers later, with the option's name); 'off' as given."""
    if text is None or is_off(text):
        return text
    return [t.strip() for t in text.split(",")]


# (parameter, type, default, option, help)
EXTENSION_OPTIONS = (
    ("official", bool, False, "--official", "The official procedure: every extension off, whatever the model's "
     "TEST keys say (options below still apply)."),
    ("size_lr", Optional[float], None, "--size-lr", "Score-gated size smoothing (TEST.SIZE_LR, (0,10]): w/h move "
     "from the previous box toward the prediction at rate min(1, SIZE_LR x score); the centre is the "
     "prediction's."),
    ("aspect_penalty", Optional[float], None, "--aspect-penalty", "With --size-lr: rate x exp(-K x (aspect change "
     "- 1)) (TEST.ASPECT_PENALTY, >= 0)."),
    ("reacq_factor", Optional[float], None, "--reacq-factor", "Re-acquisition: search factor (TEST.REACQ_FACTOR, "
     "[1,20]; the model's is 4-5) while the score stays low, same input size."),
    ("reacq_threshold", Optional[float], None, "--reacq-threshold", "Score under which a frame counts toward the "
     "wide search (TEST.REACQ_THRESHOLD, default 0.25), not --lost-threshold, which only flags frames lost."),
    ("reacq_frames", Optional[int], None, "--reacq-frames", "Frames in a row under --reacq-threshold before the "
     "wide search (TEST.REACQ_FRAMES, default 1)."),
    ("reacq_recover", Optional[float], None, "--reacq-recover", "Score that ends the wide search "
     "(TEST.REACQ_RECOVER, >= the threshold, default 0.5)."),
    ("reacq_center", Optional[str], None, "--reacq-center", "Wide search around the last confident box ('last') "
     "or its constant-velocity prediction ('motion', default) (TEST.REACQ_CENTER)."),
    ("template_refresh", Optional[float], None, "--template-refresh", "Crop the template again when the score is "
     "at least this (TEST.TEMPLATE_REFRESH, [0,1])."),
    ("template_refresh_every", Optional[int], None, "--template-refresh-every", "At most every N frames "
     "(TEST.TEMPLATE_REFRESH_EVERY, default 10)."),
    ("scale_search", Optional[str], None, "--scale-search", "Scale search: extra search crops with the factor "
     "times each of these (comma list, e.g. 0.8; [0.25,4]); the crop with the best score wins "
     "(TEST.SCALE_SEARCH; 'off' turns the model's off)."),
    ("scale_penalty", Optional[float], None, "--scale-penalty", "Score multiplier of the extra scales' crops "
     "(TEST.SCALE_PENALTY, (0,1], default 0.95)."),
    ("scale_fuse", Optional[str], None, "--scale-fuse", "With --scale-search: the box is the score-weighted mean "
     "of the crops' boxes that overlap the winner's by at least this IoU (TEST.SCALE_FUSE, [0,1], e.g. 0.5); "
     "'off': the winner's box alone."),
    ("scale_gate", Optional[str], None, "--scale-gate", "With --scale-search: a target's extra crops run only "
     "after a frame whose normal crop scored under this (TEST.SCALE_GATE, (0,1], e.g. 0.5; fewer network calls); "
     "'off': every frame."),
    ("crop_grid", Optional[str], None, "--crop-grid", "Search window on a grid of this fraction of its side "
     "(TEST.CROP_GRID, (0,0.25], e.g. 0.1): a box error smaller than a step gives the same crop, so FP16/INT8 "
     "errors do not compound; 'off' turns the model's off."),
    ("window_power", Optional[str], None, "--window-power", "Score map times the official cosine window to this "
     "power (TEST.WINDOW_POWER, [0,4]; 1 is the official window, below 1 a weaker motion prior, above 1 a "
     "stronger one); 'off' turns the model's off."),
    ("grid_window", Optional[str], None, "--grid-window", "With --crop-grid: the cosine window centred on the grid "
     "crop ('crop', default) or on the target's previous position ('target', the official motion prior) "
     "(TEST.GRID_WINDOW)."),
    ("anchor_scale", Optional[str], None, "--anchor-scale", "First-frame anchor: a DSST scale filter follows the "
     "target's size and the box's width and height stay within x/÷ this of it (TEST.ANCHOR_SCALE, [1,4], e.g. "
     "1.2); 'off' turns the model's off."),
    ("anchor_ncc", Optional[str], None, "--anchor-ncc", "First-frame anchor: the box's centre moves to the first "
     "frame's target found by normalised cross-correlation near it where the peak reaches this (TEST.ANCHOR_NCC, "
     "(0,1], e.g. 0.8); 'off' turns the model's off."),
    ("anchor_size", Optional[str], None, "--anchor-size", "With --anchor-scale: the scale filter follows its own "
     "size from the first frame ('first', default) or corrects the network's box each frame ('network', no size "
     "memory: FP16/INT8 tracks stay with FP32's) (TEST.ANCHOR_SIZE)."),
    ("anchor_gate", Optional[float], None, "--anchor-gate", "The anchor acts (and learns) only on frames whose "
     "network score is at least this (TEST.ANCHOR_GATE, [0,1], default 0)."),
    ("anchor_box", Optional[str], None, "--anchor-box", "The anchor's box becomes the tracker's state, the next "
     "crop following it ('state', default), or is only reported, the crops staying the network's ('report': "
     "FP16/INT8 take FP32's crops) (TEST.ANCHOR_BOX)."),
    ("aspect_prior", Optional[str], None, "--aspect-prior", "The reported box's width/height ratio moves this "
     "fraction of the way (in log space) toward the init box's, centre and area kept; the crops stay the network's "
     "(TEST.ASPECT_PRIOR, [0,1], e.g. 0.25); 'off' turns the model's off."),
)


def extension_options(command: Callable) -> Callable:
    """Append EXTENSION_OPTIONS to a typer command's parameters (its help panel EXT_PANEL); the command receives
    their TEST-style keys as `ext` (`ext_overrides`) instead of the options themselves."""
    sig = inspect.signature(command, eval_str=True)
    params = [p for name, p in sig.parameters.items() if name != "ext"]
    params += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=kind,
                                 default=typer.Option(default, decl, help=text, rich_help_panel=EXT_PANEL))
               for name, kind, default, decl, text in EXTENSION_OPTIONS]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = {name: kwargs.pop(name) for name, *_ in EXTENSION_OPTIONS}
        return command(*args, ext=ext_overrides(values.pop("official"), **values), **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper
