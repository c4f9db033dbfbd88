"""What `dt run --resume` says of the frames it did not track itself: the undecodable frames the killed run wrote
into the lines it keeps, and, of the lines it cut off past the journal's word, how many it tracked again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def earlier_unreadable(kept: Path, jsonl: bool, start: int) -> list[int]:
    """The frame numbers the kept lines of a resumed run's output `kept` (its NAME.part, cut back by `cut_outputs`)
    mark undecodable: `"unreadable": true` records of --jsonl (their `frame`), or box lines of nan (line k is frame
    `start` + k): the killed run found them, so the end note names them beside this run's own."""
    found = []
    with open(kept, "rb") as f:
        for k, line in enumerate(f):
            if jsonl and b'"unreadable"' in line:
                try:
                    rec = json.loads(line)
                except ValueError:   # the journal's sizes vouch for these lines: no torn one is kept
                    continue
                if isinstance(rec, dict) and rec.get("unreadable") is True and isinstance(rec.get("frame"), int):
                    found.append(rec["frame"])
            elif not jsonl and line.split() and all(v == b"nan" for v in line.split()):
                found.append(start + k)
    return found


def retracked_counts(summary: Any) -> tuple[int, int, int]:
    """Of the `summary.retracked` lines a resumed run cut off past its journal's word: those it tracked again, those
    it found undecodable again (no tracking), and those it did not reach (stopped again before them)."""
    end = summary.start + summary.resumed + summary.retracked   # the file's frame number after the cut lines
    reached = max(0, min(summary.retracked, summary.frames - summary.resumed))
    bad = sum(1 for i in summary.unreadable if i < end)   # this run's own undecodable frames among them
    return reached - bad, bad, summary.retracked - reached
