"""The tracker-extension options, shared by `dt run`, `dt serve`, `dt eval` and `dt bench` (same names and checks)."""

from __future__ import annotations

import typer

EXT_PANEL = "Tracker extensions (opt-in, beyond the official procedure; default: the model's TEST keys)"


def ext_overrides(official: bool, **values) -> dict:
    """TEST-style extension keys from the extension options that were given (--official: all off); --scale-search
    is a comma list."""
    from droptrack.runtime.extensions import OFFICIAL

    keys = dict(OFFICIAL) if official else {}
    for k, v in values.items():
        if k == "scale_search":
            v = scale_list(v)
        if v is not None:   # 'off' for a switch key (--scale-search off, --crop-grid off): that extension off
            keys[k.upper()] = None if k.upper() in OFFICIAL and is_off(v) else v
    return keys


def is_off(value) -> bool:
    """Whether an option's text is 'off' (or 'none')."""
    return isinstance(value, str) and value.strip().lower() in ("off", "none")


def scale_list(text: str | None) -> list[str] | str | None:
    """--scale-search text -> its items (checked as numbers later, with the option's name); 'off' as given."""
    if text is None or is_off(text):
        return text
    return [t.strip() for t in text.split(",")]


OFFICIAL_OPTION = typer.Option(False, "--official", help="The official procedure: every extension off, "
                                "whatever the model's TEST keys say (options below still apply).",
                                rich_help_panel=EXT_PANEL)
SIZE_LR_OPTION = typer.Option(None, "--size-lr", help="Score-gated size smoothing (TEST.SIZE_LR, "
                               "(0,10]): w/h move from the previous box toward the prediction at rate "
                               "min(1, SIZE_LR x score); the centre is the prediction's.",
                               rich_help_panel=EXT_PANEL)
ASPECT_PENALTY_OPTION = typer.Option(None, "--aspect-penalty", help="With --size-lr: rate x "
                                      "exp(-K x (aspect change - 1)) (TEST.ASPECT_PENALTY, >= 0).",
                                      rich_help_panel=EXT_PANEL)
REACQ_FACTOR_OPTION = typer.Option(None, "--reacq-factor", help="Re-acquisition: search factor "
                                    "(TEST.REACQ_FACTOR, [1,20]; the model's is 4-5) while the score "
                                    "stays low, same input size.", rich_help_panel=EXT_PANEL)
REACQ_THRESHOLD_OPTION = typer.Option(None, "--reacq-threshold", help="Score under which a frame "
                                       "counts as lost (TEST.REACQ_THRESHOLD, default 0.25).",
                                       rich_help_panel=EXT_PANEL)
REACQ_FRAMES_OPTION = typer.Option(None, "--reacq-frames", help="Lost frames in a row before the wide "
                                    "search (TEST.REACQ_FRAMES, default 1).", rich_help_panel=EXT_PANEL)
REACQ_RECOVER_OPTION = typer.Option(None, "--reacq-recover", help="Score that ends the wide search "
                                     "(TEST.REACQ_RECOVER, >= the threshold, default 0.5).",
                                     rich_help_panel=EXT_PANEL)
REACQ_CENTER_OPTION = typer.Option(None, "--reacq-center", help="Wide search around the last "
                                    "confident box ('last') or its constant-velocity prediction "
                                    "('motion', default) (TEST.REACQ_CENTER).", rich_help_panel=EXT_PANEL)
TEMPLATE_REFRESH_OPTION = typer.Option(None, "--template-refresh", help="Crop the template again "
                                        "when the score is at least this (TEST.TEMPLATE_REFRESH, "
                                        "[0,1]).", rich_help_panel=EXT_PANEL)
TEMPLATE_REFRESH_EVERY_OPTION = typer.Option(None, "--template-refresh-every", help="At most every N "
                                              "frames (TEST.TEMPLATE_REFRESH_EVERY, default 10).",
                                              rich_help_panel=EXT_PANEL)
SCALE_SEARCH_OPTION = typer.Option(None, "--scale-search", help="Scale search: extra search crops "
                                    "with the factor times each of these (comma list, e.g. 0.8; "
                                    "[0.25,4]); the crop with the best score wins (TEST.SCALE_SEARCH; "
                                    "'off' turns the model's off).", rich_help_panel=EXT_PANEL)
SCALE_PENALTY_OPTION = typer.Option(None, "--scale-penalty", help="Score multiplier of the extra "
                                     "scales' crops (TEST.SCALE_PENALTY, (0,1], default 0.95).",
                                     rich_help_panel=EXT_PANEL)
CROP_GRID_OPTION = typer.Option(None, "--crop-grid", help="Search window on a grid of this fraction "
                                 "of its side (TEST.CROP_GRID, (0,0.25], e.g. 0.1): a box error smaller "
                                 "than a step gives the same crop, so FP16/INT8 errors do not compound; "
                                 "'off' turns the model's off.", rich_help_panel=EXT_PANEL)
