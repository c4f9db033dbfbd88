"""What `dt eval` produced (`EvalResult`: the boxes, times and reports of a run) and what it prints of it
(`summary_lines`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from droptrack.eval.realtime import RealTime
from droptrack.eval.speed import fps_definition, tracker_fps
from droptrack.wording import counted


@dataclass
class EvalResult:
    """What `evaluate` produced. Boxes are floats for sequences tracked in this run and the result file's integers
    for sequences resumed from disk (`resumed`); times are per-frame tracker seconds (frame 0 = initialize)."""

    output_dir: Path
    tracker: str
    dataset: str
    sequences: list[str]
    boxes: dict[str, np.ndarray]
    times: dict[str, np.ndarray]
    tracked: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    reports: dict[str, Any] = field(default_factory=dict)    # protocol -> droptrack.eval.report.Report
    submission: Path | None = None
    wall_s: float = 0.0
    procedures: set[str] = field(default_factory=set)   # tracker settings of the sequences tracked in this run
    realtime: RealTime | None = None                    # latency-aware evaluation settings (None: every frame)
    threads_note: str = ""                              # set when threads x workers oversubscribe the cores
    threads: int | None = None                          # torch / ONNX Runtime / OpenCV threads per worker, as run

    @property
    def report(self) -> Any:
        """The report under the dataset's own protocol (None for a split without ground truth)."""
        return next(iter(self.reports.values()), None)

    @property
    def protocol(self) -> str:
        """The toolkit of the dataset's own report (the dataset tag's default when nothing was scored)."""
        if self.report is not None:
            return self.report.protocol
        return "got10k-toolkit" if self.dataset.startswith("got10k") else "ostrack-ope"

    @property
    def fps(self) -> float:
        """Tracker FPS over all sequences, as `dt analyze` defines it for the protocol (`fps_definition`)."""
        fps = tracker_fps(list(self.times.values()), self.protocol)
        return float("nan") if fps is None else fps

    @property
    def fps_definition(self) -> str:
        """How `fps` is defined (GOT-10k toolkit: mean of 1/t over frames; else frames / total seconds)."""
        return fps_definition(self.protocol)


def summary_lines(result: EvalResult) -> list[Any]:
    """What `dt eval` prints: the `dt analyze` table, the AO line for synth, and where the files are."""
    from droptrack.eval.report_view import error_lines, report_table

    lines: list[Any] = []
    if result.report is not None:   # with the sequences it left out, and why, as dt analyze says (only 'Errors 1')
        lines += [report_table(result.report), *error_lines(result.report)]
    got = result.reports.get("got10k-toolkit")
    if got is not None and got is not result.report:
        s = got.trackers[0].result.scores()
        lines.append(f"GOT-10k toolkit: AO {100 * s['ao']:.2f}  SR0.5 {100 * s['sr50']:.2f}  "
                     f"SR0.75 {100 * s['sr75']:.2f}")
        lines += [f"GOT-10k toolkit: {ln}" for ln in error_lines(got) if "left out" in ln]
    if result.report is None and result.dataset in ("video", "folder"):   # one's own footage: no server scores it
        lines.append("no ground truth beyond the first frame: nothing to score; the tracked boxes are in the files "
                     "below")
    elif result.report is None:
        lines.append("no ground truth beyond the first frame (test split): submit the files below to the "
                     "benchmark's server")
    lines.append(f"{len(result.tracked)} tracked, {len(result.resumed)} resumed; {result.fps:.1f} FPS tracker time "
                 f"({result.fps_definition}), {result.wall_s:.1f} s wall")
    if result.procedures:
        lines.append(f"tracker: {'; '.join(sorted(result.procedures))}")
    if result.threads_note:
        lines.append(f"threads: {result.threads_note} (FPS above is not the tracker's)")
    if result.realtime is not None:
        ran = sum(int(np.count_nonzero(t > 0)) for t in result.times.values())
        total = sum(len(t) for t in result.times.values())
        lines.append(f"{result.realtime.describe()}: the tracker ran on {ran} of {counted(total, 'frame')} "
                     f"({ran / max(total, 1):.0%})")
    lines.append(f"results: {result.output_dir}")
    if result.submission is not None:
        lines.append(f"submission: {result.submission}")
    return lines
