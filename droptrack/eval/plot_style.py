"""What every dt analyze plot shares: one colour per tracker, legend placement, atomic PNG writing."""

from __future__ import annotations

import functools
import io
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from droptrack.artifact import atomic_write_bytes
from droptrack.errors import printable

F = TypeVar("F", bound=Callable[..., Any])
MARK = b"droptrack"          # the PNG's Software text: a plot of this name that droptrack drew, not a user's file
INSIDE_LEGEND_MAX = 4     # more entries than this, or a label longer than INSIDE_LABEL_MAX: the legend goes outside
INSIDE_LABEL_MAX = 36     # characters; a longer label made an inside legend span most of the axes
LEGEND_NAME_MAX = 36      # characters of a tracker's name in a legend; a longer one is cut in the middle


def without_glyph_warnings(fn: F) -> F:
    """fn with matplotlib's 'Glyph N missing from font' warnings dropped: a tracker name in a script the font lacks
    (an emoji) is drawn as a box and printed whole in the tables, and each figure repeated Python's two-line
    warning, naming droptrack's plot_style.py or radar_view.py line, on stderr."""
    @functools.wraps(fn)
    def drawn(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
            return fn(*args, **kwargs)
    return drawn  # type: ignore[return-value]


def tracker_colors(names: Sequence[str]) -> dict[str, Any]:
    """{name: colour} by position: matplotlib's tab10 hues for the first 10 trackers, their pale tab20 twins for the
    next 10 (dashed in line plots: `line_style`), then again. A tracker keeps its colour however many are drawn, and
    neighbours never share a hue (tab20 in its own order paired each hue with its pale twin, side by side)."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]   # its even entries are tab10's colours, each odd one the pale twin of the one before
    return {n: cmap(2 * (i % 10) + (i // 10) % 2) for i, n in enumerate(names)}


def line_style(position: int) -> str:
    """Solid lines for the first 10 trackers, dashed for the next 10 (pale twins of the first hues), then
    dash-dotted: a hue seen twice is told apart by its line."""
    return ("-", "--", "-.")[position // 10 % 3]


def plain(text: str) -> str:
    """Text that matplotlib shows as written: '$' escaped (a name like run_$1$_x was typeset as maths), control
    characters as \\xNN (a name from elsewhere may hold them; fonts have no glyph for them)."""
    return printable(text).replace("$", r"\$")


def legend_names(names: Sequence[str], width: int = LEGEND_NAME_MAX) -> dict[str, str]:
    """{name: its legend label}: a name of up to `width` characters as it is, a longer one cut to `width` in the
    middle, start and end kept ('droptrack_tiny_syn\u2026nx_fp32_int8_kept'): a 68-character folder name made the
    legend as wide as the axes. Labels stay distinct: all long names are cut at the place nearest the middle that
    tells them apart (else a ~N end where the middle cut is taken); tables and report.json keep the full names."""
    labels = {n: n for n in names if len(n) <= width}
    long = [n for n in dict.fromkeys(names) if len(n) > width]
    seen = width - 1                                                  # characters around the ellipsis
    for head in sorted(range(1, seen), key=lambda h: (abs(h - (seen + 1) // 2), h)):   # the middle cut first
        cuts = [_cut(n, head, seen - head) for n in long]
        if len(set(cuts)) == len(cuts) and not set(cuts) & set(labels):
            return {**labels, **dict(zip(long, cuts))}
    taken = set(labels)
    for name in long:                                                 # no cut tells them all apart
        label, k = _cut(name, (seen + 1) // 2, seen // 2), 1
        while label in taken:
            k += 1
            rest = seen - len(f"~{k}")
            label = _cut(name, rest - rest // 2, rest // 2) + f"~{k}"
        taken.add(label)
        labels[name] = label
    return labels


def _cut(name: str, head: int, tail: int) -> str:
    """`name`'s first `head` and last `tail` characters around an ellipsis."""
    return name[:head] + "\u2026" + name[len(name) - tail:]


def place_legend(ax: Any, handles: list[Any], labels: list[str], inside: str | None,
                 title: str | None = None) -> Any:
    """The legend of these handles at `inside` for a few short entries, else (or with no `inside`) right of the axes,
    top-aligned, where it hides no data. Handles and labels are passed, not collected: matplotlib leaves out a
    label starting with '_' (a tracker folder named _baseline had no legend entry)."""
    labels = [plain(x) for x in labels]
    few = len(handles) <= INSIDE_LEGEND_MAX and max(map(len, labels), default=0) <= INSIDE_LABEL_MAX
    if inside is not None and few:
        return ax.legend(handles, labels, loc=inside, title=title, fontsize=8)
    return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), title=title, fontsize=8,
                     borderaxespad=0.0)


def png_bytes(fig: Any) -> bytes:
    """The figure as PNG bytes (tight box: outside legends and long labels are not cut), marked as drawn here."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": MARK.decode()})
    return buf.getvalue()


def save_png(fig: Any, path: Path) -> Path:
    """The figure as a PNG (`png_bytes`), written atomically."""
    return atomic_write_bytes(path, png_bytes(fig))


def drawn_here(path: Path) -> bool:
    """Whether a PNG file carries save_png's mark (its tEXt chunks are read; the pixels are not decoded)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    pos = 8
    while data.startswith(b"\x89PNG\r\n\x1a\n") and pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        if kind == b"tEXt" and data[pos + 8:pos + 8 + size] == b"Software\0" + MARK:
            return True
        if kind in (b"IDAT", b"IEND"):   # text before the image data is all matplotlib writes
            return False
        pos += 12 + size
    return False
