"""What `dt analyze` and `dt eval` print from a report (droptrack.eval.report): the scores table, the sequences
left out and why, the per-attribute table and the largest per-sequence gaps."""

from __future__ import annotations

import math
from typing import Any

from droptrack.errors import plain_text
from droptrack.eval.report import Report, protocol_columns
from droptrack.eval.speed import fps_definition
from droptrack.wording import counted, noun


def attribute_lines(report: Report) -> list[Any]:
    """What `dt analyze` prints after the main table: sequences left out and why, per-attribute table (or the
    note) and the largest gaps."""
    from droptrack.eval.attributes import headline_key, scored_by_both
    from droptrack.eval.attributes_view import attribute_table, difference_table

    lines: list[Any] = error_lines(report)
    ar = report.attributes
    if ar is not None and ar.scores:
        lines.append(attribute_table(ar))
    if ar is not None and ar.note:
        lines.append(ar.note)
    if report.differences:
        first, second = report.trackers[0].name, report.trackers[1].name
        lines.append(difference_table(report.differences, first, second, headline_key(report.protocol)))
    elif len(report.trackers) >= 2:   # one tracker's NaN sequence is no tie: said as the count both score
        first, second = report.trackers[0].name, report.trackers[1].name
        both, every = scored_by_both(report, first, second), len(report.sequences)
        lines.append(f"{first} and {second} have the same {headline_key(report.protocol).upper()} on every "
                     + ("sequence" if both == every else f"sequence both score ({both} of {every})"))
    return lines


def error_lines(report: Report, most: int = 5) -> list[str]:
    """One line per sequence a tracker could not be scored on (at most `most` each): why, and that it is left out."""
    lines = []
    for t in report.trackers:
        for seq, message in list(t.errors.items())[:most]:
            lines.append(f"{t.name}: {seq} left out of every tracker's averages: {message}")
        if len(t.errors) > most:
            lines.append(f"{t.name}: {len(t.errors) - most} more sequences left out (report.json: errors)")
        for seq, message in list(t.timing_errors.items())[:most]:
            lines.append(f"{t.name}: {seq} scored, but left out of FPS: {message}")
        untimed = len(report.sequences) - t.fps_sequences - len(t.timing_errors)
        if t.fps_sequences and untimed:
            lines.append(f"{t.name}: FPS from {t.fps_sequences} of {counted(len(report.sequences), 'sequence')} "
                         f"({untimed} {'has' if untimed == 1 else 'have'} no _time.txt)")
        for seq, message in list(t.notes.items())[:most]:
            lines.append(f"{t.name}: {seq} scored: {message}")
        if len(t.notes) > most:
            lines.append(f"{t.name}: {counted(len(t.notes) - most, 'more sequence', 'more sequences')} scored the "
                         "same way (report.json: notes)")
    return lines


def report_table(report: Report) -> Any:
    """A rich Table: one row per tracker with the protocol's scores (x100), FPS and scored/failed sequences."""
    from rich.table import Table

    from droptrack.eval.attributes_view import longest_word, number_column

    cols = protocol_columns(report.protocol)
    n = f"{len(report.sequences)}/{report.n_sequences}"
    table = Table(title=plain_text(f"{report.dataset}: {report.protocol}, {n} {noun(report.n_sequences, 'sequence')}"))
    table.add_column("Tracker", min_width=longest_word(t.name for t in report.trackers))
    for header, _ in cols:
        number_column(table, header, "100.00")
    for header in ("FPS", "Errors"):
        number_column(table, header, "100.0")
    for t in report.trackers:
        s = t.result.scores()
        cells = [f"{100 * s[k]:.2f}" if math.isfinite(s[k]) else "-" for _, k in cols]
        table.add_row(plain_text(t.name), *cells, f"{t.fps:.1f}" if t.fps else "-", str(len(t.errors)))
    order = "\nrows in the order the folders were given; the plots rank them" if len(report.trackers) > 1 else ""
    table.caption = f"FPS: {fps_definition(report.protocol)}{order}"
    return table
