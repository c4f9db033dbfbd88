"""Where tracking results go: official box files, JSON lines, annotated video (the --show window: window.py).

Each sink has `write(frame, results)` and `close()`; `close()` is always called (the loop's `finally`), so an
interrupted run leaves valid files. Box files and JSON lines are streamed: every frame's line is written and
flushed into `NAME.part` as soon as the frame is tracked (memory stays constant on an endless source, and after
a `kill -9` the `.part` file holds every frame but at most the one in flight); `close()` renames the `.part`
file onto NAME, so NAME only ever holds a completed run (one a full disk stopped leaves every output as NAME.part:
`Sink.keep_unfinished`; so does a file run that ends early where NAME holds an earlier result: `track_frames`'s
keep_cut). The video writer is released at close (the index is
written, players and OpenCV can read it).
The sinks live beside it: `sink_base` (Sink, TargetState, file names), `textsinks` (box files, JSON lines) and
`videosink` (--save); their public names are importable from here too.
"""

from __future__ import annotations

from droptrack.runtime.sink_base import box_paths, numbered_path, part_path, Sink, TargetState, video_part_path
from droptrack.runtime.textsinks import (BoxFileSink, format_box_line, frame_record, JsonlSink, ReaderGone,
                                         StreamFile)
from droptrack.runtime.videosink import (annotate, check_video_path, COLORS, FOURCC, letterbox, LOST_COLOR,
                                         MAX_HELD_S, MIN_VIDEO_SIDE, unreadable_frame, VideoSink)

__all__ = ["annotate", "box_paths", "BoxFileSink", "check_video_path", "COLORS", "format_box_line", "FOURCC",
           "frame_record", "JsonlSink", "letterbox", "LOST_COLOR", "MAX_HELD_S", "MIN_VIDEO_SIDE", "numbered_path",
           "part_path", "ReaderGone", "Sink", "StreamFile", "TargetState", "unreadable_frame", "video_part_path",
           "VideoSink"]
