"""The files one `dt serve` writes: --jsonl, one --output box file per target, --save; locked against other writers
(dt run, another dt serve) from before the checks until every one is closed."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path

from droptrack.errors import InputError, OutputFull
from droptrack.runtime import outlock
from droptrack.runtime.checks import check_not_folders
from droptrack.runtime.resume import holds_earlier
from droptrack.runtime.run import streamed_files, unfinished_note
from droptrack.runtime.sink_base import close_sinks
from droptrack.runtime.sinks import BoxFileSink, JsonlSink, Sink, TargetState, VideoSink
from droptrack.runtime.sources import Frame
from droptrack.serve.options import ServeOptions, check_serve_options, leftover_parts, locked_outputs, open_box_file


class Outputs:
    """The sinks a frame's record goes to, in order: --jsonl (first: a closed `-` pipe stops before any other
    output has the frame), the targets' box files, the video (last: a video that finds no room leaves the line
    files agreeing on their frames)."""

    def __init__(self, opts: ServeOptions):
        """Lock the outputs and check the options (refused: nothing locked, nothing made)."""
        # a dt run or another dt serve writing these files is refused first (not named as a killed run's NAME.part);
        # where the folder is missing nothing writes there yet, and a refused dt serve leaves no folder behind;
        # every NAME_<id>.txt a target may get is locked for the whole time (ids grow as targets are drawn)
        check_not_folders(opts)   # '.' has no NAME_0.txt to lock
        paths = locked_outputs(opts)
        serving = [Path(opts.output)] if opts.output else []
        here = [p for p in paths if p.parent.is_dir()]
        self._locks = contextlib.ExitStack()
        try:
            self._locks.enter_context(outlock.locked(here, [o for o in serving if o.parent.is_dir()]))
            check_serve_options(opts)
            self._locks.enter_context(outlock.locked([p for p in paths if p not in here],
                                                      [o for o in serving if not o.parent.is_dir()]))
        except BaseException:
            self._locks.close()
            raise
        self.opts = opts
        # --overwrite: a killed run's NAME_<id>.txt.part is replaced when that id is drawn (checked just now)
        self._replace = leftover_parts(opts.output) if opts.overwrite and opts.output else set()
        self.sinks: list[Sink] = []
        self.box_sinks: dict[int, BoxFileSink] = {}
        self.video: VideoSink | None = None   # --save, opened with the source (its frame rate)
        self.kept_earlier = False             # a full disk left every output unfinished: an earlier result kept
        self._stop_errors: list[Exception] = []   # what a removed target's flush raised (`stop_target`)

    def open(self) -> None:
        """Open --jsonl and make --output's folder: checked before any work starts (the video opens on a frame)."""
        try:
            # no --resume in dt serve: a full disk's whole lines take NAME, as at any end of the session, unless
            # an earlier result is there (`keep_earlier`)
            self.sinks = [JsonlSink(self.opts.jsonl, keep_when_full=self.keep_earlier)] if self.opts.jsonl else []
            if self.opts.output:
                Path(self.opts.output).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot write the outputs ({exc.strerror}: {exc.filename}); pass writable "
                             "--jsonl/--output paths") from None

    def open_video(self, fps: float | None, timed: bool = False) -> None:
        """--save's writer, at the source's frame rate (`timed`: by the frames' media times, `VideoSink`)."""
        if self.opts.save:
            self.video = VideoSink(self.opts.save, fps, timed)

    def open_box_file(self, target_id: int) -> BoxFileSink | None:
        """A new target's box file (None without --output); CommandError 507 / 409 if it cannot be written."""
        return (open_box_file(self.opts.output, target_id, self._replace, self.keep_earlier) if self.opts.output
                else None)

    def write(self, frame: Frame, states: list[TargetState], fps: float | None) -> None:
        """One frame's record to every output (a target's box file gets that target's line)."""
        for s in self.sinks:
            s.write(frame, states, fps)
        for st in states:
            if st.id in self.box_sinks:
                self.box_sinks[st.id].write(frame, [st], fps)
        if self.video is not None:
            self.video.write(frame, states, fps)

    def stop_target(self, target_id: int) -> None:
        """A removed target's box file: flushed and its descriptor closed now, moved onto its name at the end."""
        if target_id in self.box_sinks:
            try:
                self.box_sinks[target_id].pause()
            except Exception as exc:   # a flush a full disk refused: the file stays NAME.part, said at the end
                self._stop_errors.append(exc)

    def _all(self) -> list[Sink]:
        return [*self.sinks, *self.box_sinks.values(), *([self.video] if self.video is not None else [])]

    def close(self, full: bool = False) -> list[Exception]:
        """Close every output (each one even when another fails; `close_sinks`, as dt run); returns what failed, a
        full disk first. `full`: a full disk stopped the session; where it would replace an earlier session's result
        (--overwrite), every output stays unfinished (`keep_earlier`)."""
        if full or any(isinstance(e, OutputFull) for e in self._stop_errors):
            self.keep_earlier()
        return [*self._stop_errors, *close_sinks(self._all(), self.keep_earlier)]

    def keep_earlier(self) -> bool:
        """As dt run after a full disk: when an output this session wrote would replace an earlier result at its
        name, every output stays NAME.part / NAME.part.EXT and the earlier files stay as they were (a set of one
        session, never a mix); with no earlier result the whole lines take NAME, as at any end (no --resume here)."""
        if not self.kept_earlier and holds_earlier([final for _, final in written(self._all())]):
            self.kept_earlier = True
            for s in self._all():
                s.keep_unfinished()
        return self.kept_earlier

    def unfinished_note(self) -> str:
        """'; the new run's unfinished outputs stay in A.part, ... (the earlier A, ... kept as they were)' where
        `keep_earlier` kept them, else ''."""
        return unfinished_note(self._all()) if self.kept_earlier else ""

    def jsonl_file(self) -> str | None:
        """Where --jsonl is: its name, or NAME.part where a full disk left it unfinished."""
        left = [part for s in self.sinks for part, _ in s.unfinished()]
        return f"{left[0]} (unfinished: no room left)" if left else self.opts.jsonl

    def release(self) -> None:
        """Drop the locks (every output is closed, or the process ends): another run may write the files now."""
        self._locks.close()

    def box_files(self) -> list[str]:
        """The --output box files written so far, one per target that was tracked (boxes_<id>.txt), by id; a target
        removed on the frame it was drawn on, before that frame's record, has no line and so no file (an earlier
        run's file of its name is left as it was)."""
        return [f"{f.part} (unfinished: no room left)" if f.unfinished() else str(f.path)
                for _, sink in sorted(self.box_sinks.items()) for f in sink.files if f.lines]

    def video_file(self) -> str | None:
        """Where --save is: its name, or the unfinished NAME.part.EXT a full disk left (not moved into place)."""
        if self.video is not None and self.video.full:
            return f"{self.video.part} (unfinished: no room left)"
        return self.opts.save


def written(sinks: list[Sink]) -> list[tuple[Path, Path]]:
    """(temporary name, final name) of every file the sinks wrote something to (not written in place)."""
    pairs = [(f.part, f.path) for f in streamed_files(sinks) if f.lines]
    videos = [s for s in sinks if isinstance(s, VideoSink) and s.part != s.path and s.part.exists()]
    return pairs + [(v.part, v.path) for v in videos]


def catch_up(sink: BoxFileSink, frame: Frame, unread: list[Frame], state: TargetState) -> None:
    """Start a new target's box file on the frame it was drawn on when that frame's record is already written
    (the frame stays on view after damaged ones, `unread`): its init line, then those frames' nan lines."""
    sink.write(frame, [state], None)
    for damaged in unread:
        sink.write(damaged, [dataclasses.replace(state, box=[math.nan] * 4, score=None)], None)
