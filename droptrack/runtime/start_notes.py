"""The warnings `dt run` and `dt serve` both give once their source delivered its first frame (one function, so the
two commands say the same): a video's non-square pixels and tracker-extension settings that work against the run.
`dt eval` and `dt bench` give the same extension-settings lines once per run (`settings_notes`), from the model's
own description (checkpoint config, ONNX metadata, engine sidecar) without loading it: their workers load it."""

from __future__ import annotations

import warnings
from typing import Any

from droptrack.errors import ExtensionSettingsWarning
from droptrack.videofiles import PixelAspectWarning


def warn_at_start(source: Any, tracker: Any, lost_threshold: float, given: dict | None = None) -> None:
    """The source's PixelAspectWarning (boxes from a player's picture need its factor), then one
    ExtensionSettingsWarning per `extension_notes` of the tracker's settings (its model's TEST keys with the options
    `given` over them) and `lost_threshold`."""
    note = getattr(source, "aspect_note", None)
    if note:
        warnings.warn(note, PixelAspectWarning, stacklevel=3)
    for note in extension_notes(tracker.ext, getattr(tracker.extensions, "search_factor", None), lost_threshold,
                                given):
        warnings.warn(note, ExtensionSettingsWarning, stacklevel=3)
    note = None if embedded_graph(tracker) else padded_batch_note(tracker.ext, getattr(tracker, "meta", None))
    if note:
        warnings.warn(note, ExtensionSettingsWarning, stacklevel=3)


def embedded_graph(tracker: Any) -> bool:
    """Whether the tracker runs the embedded model's shipped ONNX Runtime graph (a run without a model file): a run
    that does not fill its batch (`--scale-search off`, `--official`) tracks about as fast as PyTorch did, and the
    padded-batch note's fixes (model.onnx, another export) would name files the user never made."""
    from pathlib import Path

    from droptrack.model.default import embedded_ort_file   # torch-free

    path, shipped = getattr(getattr(tracker, "backend", None), "path", None), embedded_ort_file()
    return path is not None and shipped is not None and Path(path) == shipped


def padded_batch_note(ext: Any, meta: Any) -> str | None:
    """A note when the graph takes a batch of crops per call (`dt export --ort`'s model_ort.onnx) that this run's
    scale settings do not fill: each short call is padded with copies, up to twice the network's time for a frame
    (model.onnx is then the faster graph); None otherwise."""
    extra = getattr(meta, "extra", None)
    batch = extra.get("batch") if isinstance(extra, dict) else None
    every = len(ext.scales)
    if not isinstance(batch, int) or batch < 2 or (every % batch == 0 and ext.scale_gate is None):
        return None
    sends = f"1 or {every}" if ext.scale_gate is not None and every > 1 else str(every)
    return (f"the graph runs {batch} crops a call (dt export --ort, for {batch} crops a target) and this run sends "
            f"{sends} a target each frame: its calls are filled with copies, up to twice the network's time; track "
            "with model.onnx here, or export model_ort.onnx with these settings in its config")


def extension_notes(ext: Any, search_factor: float | None, lost_threshold: float | None,
                    given: dict | None = None) -> list[str]:
    """Warnings on tracker-extension settings (the model's TEST keys or the options) that work against the run: a
    template refresh threshold under --lost-threshold (a frame reported lost, scoring between the two, can crop its
    new template on what the box drifted to; the README asks for it at or above; `lost_threshold` None: a command
    without that option, dt eval and dt bench, against dt run's default), and a re-acquisition search factor no
    wider than the model's own search factor (REACQ_FACTOR is the factor itself, not a multiple: 2 on a 4x model
    searches half as wide while the target is lost), and ANCHOR_SIZE / ANCHOR_GATE without the scale filter they
    set, ANCHOR_BOX 'report' without any anchor (nothing would change); those only where the options (`given`, the
    TEST keys they set; None: any) set them, not a model's own keys that its anchor, turned off, leaves idle."""
    from droptrack.runtime.track_result import LOST_THRESHOLD

    notes = []
    refresh, lost = ext.template_refresh, LOST_THRESHOLD if lost_threshold is None else lost_threshold
    if refresh is not None and refresh < lost:
        below, lower = ((f"--lost-threshold {lost:g}", ", or a lower --lost-threshold") if lost_threshold is not None
                        else (f"{lost:g}, the score under which dt run reports a target lost (its --lost-threshold)",
                              ""))
        notes.append(f"template refresh at {refresh:g} is below {below}: a frame reported lost with a score from "
                     f"{refresh:g} to {lost:g} can crop a new template on what the box has drifted to; pass "
                     f"--template-refresh {lost:g} or more{lower}")
    def said(key: str) -> bool:
        return given is None or key in given

    inert = (["--anchor-size network"] if ext.anchor_size == "network" and said("ANCHOR_SIZE") else []) + (
        [f"--anchor-gate {ext.anchor_gate:g}"] if ext.anchor_gate and ext.anchor_ncc is None and said("ANCHOR_GATE")
        else [])   # the gate also acts on NCC
    if inert and ext.anchor_scale is None:
        notes.append(f"{' and '.join(inert)} {'act' if len(inert) > 1 else 'acts'} on the first-frame anchor's scale "
                     f"filter, and --anchor-scale is off, so {'they do' if len(inert) > 1 else 'it does'} nothing "
                     "here; pass --anchor-scale too (e.g. 1.0)")
    if ext.anchor_box == "report" and ext.anchor_scale is None and ext.anchor_ncc is None and said("ANCHOR_BOX"):
        notes.append("--anchor-box report reports the first-frame anchor's box, and the anchor is off (neither "
                     "--anchor-scale nor --anchor-ncc), so it does nothing here; pass --anchor-scale too (e.g. 1.0)")
    wide = ext.reacq_factor
    if wide is not None and search_factor and wide <= search_factor:
        notes.append(f"--reacq-factor {wide:g} is the search factor of the re-acquisition crop, not a multiple, and "
                     f"this model already searches {search_factor:g}x the target (TEST.SEARCH_FACTOR): a lost target "
                     f"is searched for in a crop no wider than usual; pass more than {search_factor:g}, e.g. "
                     f"{2 * search_factor:g}")
    return notes


def settings_notes(artifact: str | None, config: str | None, overrides: dict | None, trust: bool = False,
                   graph: Any = None) -> list[str]:
    """`extension_notes` of a model file's TEST keys with `overrides` over them (as the loaded tracker merges them)
    and its search factor, read from what the file says of itself, not its weights (`artifact_meta`); a file that
    cannot be read that way gets none: loading it says what is wrong. `graph`: an .onnx file's CheckedGraph."""
    from droptrack.errors import DropTrackError

    try:
        meta = artifact_meta(artifact, config, trust, graph)
    except DropTrackError:
        return []
    return meta_notes(meta, overrides)


def meta_notes(meta: Any, overrides: dict | None) -> list[str]:
    """`extension_notes` of a model described by `meta` (an ArtifactMeta: its TEST keys, its search factor) with
    `overrides` over its keys, as the loaded tracker merges them (dt bench: each row's loaded backend's meta)."""
    from droptrack.runtime.ext_overrides import merge_overrides

    return extension_notes(merge_overrides(meta.tracker or {}, overrides), meta.search_factor, None, overrides or {})


def artifact_meta(artifact: str | None, config: str | None = None, trust: bool = False, graph: Any = None) -> Any:
    """The ArtifactMeta a model's tracker is built with, without loading the model: a checkpoint's config (`config`
    over it; the embedded model's for None) read without its tensors' values, an .onnx file's metadata (`graph`'s,
    parsed by its check, else checked here: without external weights), an engine's sidecar."""
    from droptrack.artifact import ArtifactMeta, artifact_format

    kind = artifact_format(artifact) if artifact is not None else "torch"
    if kind == "onnx":
        if graph is None or graph.locations_for(artifact) is None:   # none given, or the file changed since
            from droptrack.engine.onnx_files import check_graph
            from droptrack.errors import BackendError

            graph = check_graph(artifact, BackendError)
        return ArtifactMeta.from_strings(dict(graph.props))
    if kind == "engine":
        from pathlib import Path

        from droptrack.engine.tensorrt_backend import read_sidecar

        return ArtifactMeta.from_dict(read_sidecar(Path(artifact))["meta"])
    from droptrack.signals import import_torch

    import_torch()   # first: a stop while torch starts comes after it (signals.import_torch), not as an abort
    from droptrack.model.checkpoint import tracking_meta
    from droptrack.model.default import default_checkpoint

    return tracking_meta(default_checkpoint() if artifact is None else artifact, config, trust)


def warn_settings(notes: list[str]) -> None:
    """Each note once as an ExtensionSettingsWarning (one 'warning: ...' line), in order."""
    for note in dict.fromkeys(notes):
        warnings.warn(note, ExtensionSettingsWarning, stacklevel=2)


def edge_box_note(boxes: list, image_hw: tuple[int, int]) -> str | None:
    """A note for the first --init box that runs past the frame's edge (allowed: a target the frame cuts): the tracker
    starts from it as given, but the outputs' first row is its part inside the frame, so the two differ; else None."""
    from droptrack.geometry import clip_box

    H, W = image_hw
    for k, box in enumerate(boxes):
        x, y, w, h = map(float, box)
        if x < 0 or y < 0 or x + w > W or y + h > H:
            shown = clip_box([x, y, w, h], H, W, margin=0)
            which = f"target {k}'s " if len(boxes) > 1 else ""
            return (f"{which}--init box {x:g},{y:g},{w:g},{h:g} runs past the {W}x{H} frame: the tracker starts from "
                    f"it as given, and the outputs' first row holds its part inside the frame, "
                    f"{','.join(f'{v:g}' for v in shown)}")
    return None
