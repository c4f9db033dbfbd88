"""What `dt run` says when it ends: the summary line and latency table, and the notes on the source (ground truth
overwritten, fewer frames than announced, undecodable frames, mixed frame sizes)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from droptrack.runtime.loop import RunSummary
from droptrack.runtime.videosink import video_rate
from droptrack.videofiles import ESTIMATED_COUNT, fewer_frames_stored
from droptrack.wording import counted


def ground_truth_note(source: str, output: str | None) -> str | None:
    """A note when --output is where dt eval / dt bench read the source's ground truth (`clip.txt` beside
    `clip.mp4`, `groundtruth.txt` in a frame folder): they would score against these boxes."""
    if not output:
        return None
    from droptrack.data.folder import ground_truth_files

    src, out = Path(os.path.expanduser(source)), Path(os.path.expanduser(output))
    if not src.exists() or not any(os.path.abspath(out) == os.path.abspath(p) for p in ground_truth_files(src)):
        return None
    return (f"{out} is where dt eval and dt bench read {src.name}'s ground truth: they will score trackers against "
            "these boxes; name it otherwise if they are not ground truth")


def ended_early_note(summary: RunSummary, source: str | None = None) -> str | None:
    """A note when a file source gave fewer frames than its header announced, else None: truncated or damaged, or
    (its frames' times run on to where the count would end) fewer frames stored than its rate says. `source`: a
    Matroska/WebM file one frame short of its estimated count is no sign of damage (an intact MKV was called
    'truncated or damaged?')."""
    if summary.interrupted or summary.stopped or not summary.expected or summary.frames >= summary.expected:
        return None
    if source is not None and Path(str(source)).suffix.lower() in ESTIMATED_COUNT and \
            summary.expected - summary.frames <= 1:
        return None
    announced = summary.announced or summary.expected   # the header's count, not --max-frames
    first = summary.first_timestamp if math.isfinite(summary.first_timestamp) else 0.0
    skipped = summary.start   # --start N: the file's frames and times from its start (a file that stores fewer
    if skipped:               # frames than its rate has them at no fixed time: frame N's time says nothing of N)
        first = 0.0
    stored = fewer_frames_stored("the source", summary.frames + skipped, announced + skipped, summary.source_fps,
                                 summary.last_timestamp, first)
    if stored is not None:   # times ran ahead of the frames
        return f"{stored}; the outputs hold one line per stored frame (--jsonl gives each one's time)"
    return (f"the source ended after {summary.frames} of the {announced} frames its header announces "
            "(a truncated or damaged file?); the outputs hold those frames")


GAP_PERIODS = 10   # a jump of the frame times of more periods than this (and a second: loop.GAP_MIN_S) is named


def time_gap_note(summary: RunSummary) -> str | None:
    """A note on the largest jump in a file's frame times that no undecodable frame explains, else None."""
    if summary.time_gap is None or not summary.source_fps or not summary.expected:   # a file (its frame count)
        return None
    index, gap = summary.time_gap
    if gap * summary.source_fps <= GAP_PERIODS:   # a variable rate's usual pause (tree.avi: 6.5 periods)
        return None
    return (f"the source's frame times jump by {gap:.2f} s (about {round(gap * summary.source_fps) - 1} frames at "
            f"{summary.source_fps:.4g} FPS) before frame {index}, with no frame failing to decode: frames a damaged "
            "file lost without a word, or a pause in a variable-frame-rate recording; frame numbers from there on "
            "count the frames read (--jsonl gives each one's time)")


def unreadable_note(summary: RunSummary) -> str | None:
    """A note naming the frames of the file that could not be decoded (skipped, no box), else None; after --resume,
    those in the lines the killed run wrote too (the outputs hold them all)."""
    bad = sorted(set(summary.earlier_unreadable) | set(summary.unreadable))   # a --resume: the killed run's too
    if not bad:
        return None
    shown = ", ".join(map(str, bad[:10])) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
    return (f"{len(bad)} frame(s) could not be decoded and have no box: {shown} (0-based); their lines read nan in "
            "the box files, \"unreadable\": true in --jsonl, a gray frame in --save")


def size_note(summary: RunSummary) -> str | None:
    """A note when frames differ in size from the first (an image folder mixing sizes), else None."""
    if not summary.other_sizes or summary.first_size is None or summary.other_example is None:
        return None
    (w, h), (index, w2, h2) = summary.first_size, summary.other_example
    return (f"{summary.other_sizes} frame(s) differ in size from the first frame ({w}x{h}), the first of them frame "
            f"{index} ({w2}x{h2}, 0-based): each box is in its own frame's pixels, and the tracker does not rescale "
            "its target between sizes (a stray thumbnail, or frames of two cameras?): move such frames out, or resize "
            "them all to one size")


def left_out_note(summary: RunSummary) -> str | None:
    """A note when --save left out frames of a passage faster than the video's rate (it keeps the source's timing)."""
    if not summary.left_out:
        return None
    rate = video_rate(summary.source_fps)
    return (f"{counted(summary.left_out, 'frame')} of a passage faster than the video's {rate:.4g} FPS "
            f"{'is' if summary.left_out == 1 else 'are'} not in the --save video, so it plays as long as the source "
            "(--output and --jsonl have every frame)")


def summary_table(summary: RunSummary):
    """Rich table of the per-stage mean and p99 latency (tracked frames; the init frame excluded)."""
    from rich.table import Table

    table = Table(title="latency per stage")
    for col, just in (("stage", "left"), ("mean ms", "right"), ("p99 ms", "right")):
        table.add_column(col, justify=just)
    for stage, v in summary.stage_stats().items():   # "-": no tracked frame (a 1-frame source, --max-frames 1)
        table.add_row(stage, *(f"{v[k]:.2f}" if math.isfinite(v[k]) else "-" for k in ("mean_ms", "p99_ms")))
    return table


def summary_line(summary: RunSummary) -> str:
    """Frames, targets, FPS, loop overhead and lost frames in one line."""
    speed = (f"{summary.fps:.1f} FPS, init {summary.init_ms:.1f} ms, overhead (total - infer) / infer "
             f"{100 * summary.overhead:.1f} %" if summary.tracked else
             f"init {summary.init_ms:.1f} ms, no frame tracked after the init frame (no FPS)")
    bad = len(summary.unreadable)   # a resumed run counts lost frames over the frames it tracked itself: its
    new = summary.frames - summary.resumed - bad   # own undecodable frames have no box (the killed run's are kept)
    at = summary.start + summary.resumed   # the file's frame number (--start N counts from N)
    return (counted(summary.frames, "frame") + (f" ({new} tracked after resuming at frame {at}"
                                                + (f", {bad} could not be decoded" if bad else "") + ")"
                                                if summary.resumed else "")
            + f", {counted(summary.num_targets, 'target')}, {speed}, {counted(summary.lost_count, 'frame')} with a "
            "lost target"
            + (f" among those {new}" if summary.resumed else "")
            + (f", {summary.skipped} stale live frames skipped (--every-frame queues them)" if summary.skipped else "")
            + f"; tracker: {summary.procedure}")
