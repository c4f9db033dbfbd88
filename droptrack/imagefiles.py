"""Which files of a folder are frames, and their order: shared by `dt run` (image folders) and the dataset readers."""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from droptrack.decodelog import quiet_decoding
from droptrack.errors import shell_quote, StrayImagesWarning
from droptrack.wording import counted

# every still format cv2.imread decodes as frames come (GIF: OpenCV 4.11+; a build without a decoder gives an
# unreadable frame that keeps its index, never a frame silently left out of the sequence)
IMAGE_EXTS = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm",
              ".pnm", ".pbm", ".jp2", ".avif")

# of those, the ones a single file of which is often an animation (where OpenCV cannot count its images)
ANIMATION_EXTS = (".gif",)

# photo formats cv2.imread cannot decode (phones' HEIC, camera raw): refused in a folder of frames, never left out
UNDECODABLE_EXTS = (".heic", ".heif", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2")


def numeric_key(name: str) -> tuple:
    """Sort key: the integers in a file name, then the name ('img2' < 'img10'; zero-padded names keep their order)."""
    return tuple(int(d) for d in re.findall(r"\d+", name)), name


def is_image_file(path: Path) -> bool:
    """An image suffix, not hidden (macOS '._0001.jpg' resource forks, '.DS_Store') and not a folder; a link whose
    target is gone counts (it is a frame that cannot be read, not one to leave out of the order)."""
    return (path.suffix.lower() in IMAGE_EXTS and not path.name.startswith(".")
            and (path.is_file() or (path.is_symlink() and not path.exists())))


def listed_images(folder: Path) -> list[Path]:
    """The image files of an existing folder, unsorted: `is_image_file` of each entry, told from the listing itself
    (a frame file is not stat-ed: TrackingNet's 225,000 test frames on a network disk were as many round trips)."""
    with os.scandir(folder) as entries:
        return [Path(e.path) for e in entries if e.name[:1] != "." and os.path.splitext(e.name)[1].lower() in IMAGE_EXTS
                and _frame_entry(e)]


def _frame_entry(e: os.DirEntry) -> bool:
    """A file, or a link that reaches none (its target gone, or a loop: ELOOP raised a traceback from the listing)."""
    try:
        return e.is_file() or (e.is_symlink() and not os.path.exists(e.path))
    except OSError:   # a link loop: a frame that cannot be read, named where it is read
        return True


def is_still_image(path: Path) -> bool:
    """A single image file holding one picture (a photo: `dt run` reads it as a folder's frames are read, EXIF
    orientation applied), not an animation (GIF, APNG) or a multi-page file, which FFmpeg reads as a video."""
    import cv2

    if path.suffix.lower() not in IMAGE_EXTS:
        return False
    count = getattr(cv2, "imcount", None)
    if count is None:
        return path.suffix.lower() not in ANIMATION_EXTS
    try:
        return quiet_decoding(count, str(path))[0] == 1
    except cv2.error:
        return True   # not countable: cv2.imread's own error names it


def animation_problem(path: Path) -> str | None:
    """Why an image file holding several pictures cannot be tracked as a video, or None: an animated WebP, of which
    cv2.imread reads the first picture only and OpenCV's FFmpeg none, or a multi-page TIFF (a microscope's or a
    scanner's stack), of whose pages OpenCV's FFmpeg reads the first only: the others would be left out without a
    word."""
    suffix = path.suffix.lower()
    if suffix not in (".webp", ".tif", ".tiff") or is_still_image(path):
        return None
    # the file as a word of its own (the path as given, quoted): the command pastes from any folder, and a name with
    # a quote or a space is still that file (a bare name inside the Python text worked in the file's folder only)
    split = ("split it into a folder of frames and track that: `mkdir frames && python -c \"import sys; from PIL "
             "import Image, ImageSequence as S; [f.convert('RGB').save(f'frames/{i:04d}.png') for i, f in "
             f"enumerate(S.Iterator(Image.open(sys.argv[1])))]\" {shell_quote(path)}`")
    if suffix == ".webp":
        return f"'{path}' is an animated WebP, which OpenCV reads no video from; {split}"
    import cv2

    pages = quiet_decoding(cv2.imcount, str(path))[0]
    return f"'{path}' is a TIFF of {pages} pages, of which OpenCV's video reader reads the first only; {split}"


def frames_problem(folder: Path) -> str | None:
    """Why a folder's frames cannot be read as one sequence, or None: photos cv2.imread cannot decode (left out,
    every later frame's index would shift), or a frame in two formats (a converted copy beside its original: every
    frame would be tracked twice)."""
    bad = sorted((p for p in folder.iterdir() if p.suffix.lower() in UNDECODABLE_EXTS and not p.name.startswith(".")
                  and p.is_file()), key=lambda p: numeric_key(p.name))
    if bad:
        shown = ", ".join(p.name for p in bad[:3]) + (", ..." if len(bad) > 3 else "")
        return (f"folder '{folder}' holds {len(bad)} photo(s) in a format OpenCV cannot decode ({shown}); convert "
                f"them to jpg or png (e.g. `mogrify -format jpg *{bad[0].suffix}` in a copy) or move them out")
    images = listed_images(folder)   # one listing for both checks below (the reader lists the frames again)
    seen: dict[str, Path] = {}
    for p in sorted(images):
        first = seen.setdefault(p.stem, p)
        if first is not p:
            return (f"folder '{folder}' holds frame '{p.stem}' twice ({first.name}, {p.name}: a converted copy beside "
                    "its original?); every frame would be tracked twice: keep one format, move the others out")
    return _two_series(folder, frame_images(folder, images, warn=False))


def _two_series(folder: Path, frames: list[Path]) -> str | None:
    """Frames of two name patterns that share numbers (00001.jpg beside its 00001_mask.png, shot0.png beside take0.png):
    in natural order they alternate, every other frame of one sequence the other's, without a word."""
    series: dict[str, dict[tuple, str]] = {}
    for p in sorted(frames):   # listing order varies: the patterns named in name order
        numbers = numeric_key(p.name)[0]
        if numbers:
            series.setdefault(name_letters(p.name), {}).setdefault(numbers, p.name)
    patterns = list(series.values())
    for i, a in enumerate(patterns):
        for b in patterns[i + 1:]:
            shared = sorted(set(a) & set(b))
            if shared:
                return (f"folder '{folder}' holds two numbered series with the same numbers ({a[shared[0]]} and "
                        f"{b[shared[0]]}: frames and their masks, or two shots?), which would alternate frame by frame "
                        "as one sequence; move one series out of the folder")
    return None


def no_frames_message(folder: Path) -> str:
    """The error for a folder without frames, naming a subfolder that has them (a GOT-10k or LaSOT sequence's img/),
    or the video it holds (a folder given where its video was meant)."""
    from droptrack.videofiles import VIDEO_EXTS

    subs = (d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith("."))
    sub = next((d for d in subs if any(is_image_file(p) for p in d.iterdir())), None)
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTS and not p.name.startswith(".")
                    and p.is_file())
    if sub is not None:
        hint = f"its subfolder '{sub.name}' holds frames: pass '{sub}'"
    elif len(videos) == 1:
        hint = f"it holds a video: pass the video file as SOURCE, '{videos[0]}'"
    elif videos:
        hint = f"it holds {len(videos)} videos: pass one video file as SOURCE, e.g. '{videos[0]}'"
    else:
        hint = "point SOURCE to a folder of frames or a video file"
    return f"folder '{folder}' has no images ({', '.join(IMAGE_EXTS)}); {hint}"


def holds_sequences(folder: Path, limit: int = 200) -> bool:
    """A GOT-10k-layout set: list.txt, or sequence folders holding groundtruth.txt (of the first `limit` folders)."""
    try:
        return folder.is_dir() and ((folder / "list.txt").is_file()
                                    or any((s / "groundtruth.txt").is_file() for s in _subfolders(folder, limit)))
    except PermissionError:   # a folder closed to this user: the command's own read names that, in one line
        return False


def sequence_root_hint(root: Path, limit: int = 200) -> str | None:
    """Where to point --root when a GOT-10k-layout root (sequence folders side by side, each with its frames and
    groundtruth.txt) holds no sequence, or None: `root` is itself one sequence (the folder above holds it), or a
    folder up to two levels below it holds the set (`dt eval --root` on a folder that a set was made inside)."""
    if not root.is_dir():
        return None
    for sub in _subfolders(root, limit):
        for cand in (sub, *_subfolders(sub, limit)):
            if holds_sequences(cand, limit):
                return f"its subfolder '{cand.relative_to(root)}' holds sequences: pass --root {shell_quote(cand)}"
    if (root / "groundtruth.txt").is_file() and listed_images(root):
        return (f"'{root}' is one sequence (its frames and groundtruth.txt lie in it): pass the folder that holds it "
                f"beside the other sequences, --root {shell_quote(root.parent)}")
    return None


def lone_frame_note(source: str) -> str | None:
    """A note when SOURCE is one photo of a folder of numbered frames (`frames/00000001.jpg` for `frames/`): it is
    tracked as a one-frame source, so nothing but the --init box comes out; None for any other source."""
    path = Path(os.path.expanduser(source))
    if path.suffix.lower() not in IMAGE_EXTS or not path.is_file() or not re.search(r"\d", path.stem):
        return None

    def pattern(p: Path) -> str:   # frame_12.jpg -> frame_#.jpg: the frames of one sequence share it
        return re.sub(r"\d+", "#", p.name.lower())

    frames = sum(pattern(p) == pattern(path) for p in listed_images(path.parent))
    if frames < 2:
        return None
    return (f"'{path.name}' is one photo, tracked as a single frame; its folder holds {frames} frames: to track "
            f"them, pass the folder as SOURCE: dt run {shell_quote(path.parent)} ...")


def _subfolders(folder: Path, limit: int) -> list[Path]:
    """Up to `limit` visible subfolders of `folder`, by name (none when it cannot be listed)."""
    try:
        with os.scandir(folder) as entries:
            found = sorted(Path(e.path) for e in entries if e.name[:1] != "." and e.is_dir())
    except OSError:
        return []
    return found[:limit]


DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")   # a name that is a plain decimal number: a timestamp such as 1700000000.25


def name_letters(name: str) -> str:
    """The letters of a file name's stem, lower-cased: what the frames of one sequence share whatever their numbers,
    padding and separators (frame_0001.png, frame_10000.png: 'frame'; 00000001.jpg, 0.jpg, 1700000000.25.png: '')."""
    return "".join(c for c in os.path.splitext(name)[0].lower() if c.isalpha())


def stray_images(images: Sequence[Path]) -> list[Path]:
    """The images of a folder of numbered frames that are no frame of it: where more than half of the images are
    numbered alike (digits, the same letters around them: GOT-10k's 00000001.jpg, TrackingNet's 0.jpg, IMG_0001.JPG,
    frame_0001.png), those with other letters and no number (norm_precision.png an old dt wrote there, a cover.jpg),
    or with other letters and a number and another size than its first frame (a 'Screenshot 2024-05-01 at
    10.00.00.png', a thumb_0001.jpg; at most MAX_SIZE_CHECKS of them are decoded: more are kept as frames); taken
    as frames, they sorted first and every box went to the frame before its own. None in any other folder (no
    numbering most images share: all are frames)."""
    numbered = Counter(name_letters(p.name) for p in images if re.search(r"\d", p.stem))
    if not numbered:
        return []
    letters, count = numbered.most_common(1)[0]
    if count * 2 <= len(images):
        return []
    others = [p for p in images if name_letters(p.name) != letters]
    strays = [p for p in others if not re.search(r"\d", p.stem)]
    named = [p for p in others if re.search(r"\d", p.stem)]   # img_1.5.png beside 1.png: a frame of the same size
    if named and len(named) <= MAX_SIZE_CHECKS:
        first = min((p for p in images if name_letters(p.name) == letters), key=lambda p: numeric_key(p.name))
        size = _size(first)
        strays += [p for p in named if size is not None and _size(p) not in (None, size)]
    return strays


MAX_SIZE_CHECKS = 20   # images of another name pattern decoded to compare their size with the first frame's


def _size(path: Path) -> tuple[int, int] | None:
    """An image's (width, height) as `read_bgr` reads it (EXIF orientation applied), or None if it cannot be read."""
    import cv2

    img = _imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    return None if img is None else (img.shape[1], img.shape[0])


def frame_images(folder: Path, images: list[Path], warn: bool = True) -> list[Path]:
    """`images` of `folder` less its `stray_images`, with one StrayImagesWarning naming those (`warn`)."""
    strays = stray_images(images)
    if not strays:
        return images
    left = set(strays)
    frames = [p for p in images if p not in left]
    if warn:
        names = sorted(p.name for p in strays)
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        frame = min((p.name for p in frames), key=numeric_key)
        one = len(strays) == 1
        warnings.warn(f"folder '{folder}' holds {counted(len(strays), 'image')} named unlike its frames ({frame}, ...) "
                      f"and without a number or of another size, left out of the frames: {shown} (an old dt's plot, "
                      f"a cover, a screenshot?); move {'it' if one else 'them'} out of the folder",
                      StrayImagesWarning, stacklevel=3)
    return frames


def sorted_images(folder: Path, natural: bool = True, warn: bool = False) -> list[Path]:
    """The frames of an existing folder (its images less `stray_images`, one warning naming those with `warn`) in
    natural order (1.png, 2.png, 10.png), or by name. In natural order, names that are all plain decimal numbers
    (timestamps with varying digits after the point: 1700000000.5, 1700000000.25) are ordered by their value."""
    return ordered(frame_images(folder, listed_images(folder), warn), natural)


def ordered(images: list[Path], natural: bool = True) -> list[Path]:
    """`images` of one folder in `sorted_images`' order."""
    if not natural:
        return sorted(images)
    if images and all(DECIMAL.fullmatch(p.stem) for p in images):
        return sorted(images, key=lambda p: (Decimal(p.stem), p.name))
    return sorted(images, key=lambda p: numeric_key(p.name))


LOW_16BIT = 4096   # a 16-bit frame whose values all stay below this (12-bit sensor data) is nearly black as 8 bits


def _imread(path: Path, flags: int, said: list[str] | None = None):
    """cv2.imread with the decoder's own stderr lines (libjpeg's 'Corrupt JPEG data: ...') appended to `said`
    instead of printed."""
    import cv2

    img, lines = quiet_decoding(cv2.imread, str(path), flags)
    if img is None and path.suffix.lower() in (".tif", ".tiff"):
        # OpenCV 5's imread refuses a TIFF whose orientation (5-8) transposes it; its page reader turns it upright
        (ok, pages), lines = quiet_decoding(cv2.imreadmulti, str(path), flags=flags)
        img = pages[0] if ok and pages else None
    if said is not None:
        said.extend(lines)
    return img


def _full_16bit(path: Path) -> bool:
    """A frame that decodes as 16 bits with values reaching LOW_16BIT or more (full-range 16-bit data)."""
    import cv2

    img = _imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    return img is not None and img.dtype.name == "uint16" and int(img.max()) >= LOW_16BIT


def probe_frames(files: Sequence[Path], count: int = 5) -> tuple[Path, ...]:
    """Up to `count` frames spread evenly over a folder, first and last included: the frames that decide whether
    its 16-bit frames hold 12-bit data (one dark first frame of full-range footage must not decide it)."""
    if not files:
        return ()
    n = min(count, len(files))
    picks = sorted({round(i * (len(files) - 1) / max(n - 1, 1)) for i in range(n)})
    return tuple(files[i] for i in picks)


class Probes:
    """A folder's `probe_frames`, decoded once, at its first dark 16-bit frame: whether any holds full-range 16-bit
    data decides for every frame of the folder (a dark frame is not full-range itself)."""

    def __init__(self, files: Sequence[Path]):
        self.paths = probe_frames(files)
        self._full: bool | None = None

    def full_range(self) -> bool:
        """Whether a probe frame holds 16-bit values of LOW_16BIT or more."""
        if self._full is None:
            self._full = any(_full_16bit(p) for p in self.paths)
        return self._full


def read_bgr(path: Path, probes: Probes | None = None, said: list[str] | None = None):
    """Decode a frame as the official toolkits do (cv2.imread, IMREAD_COLOR): EXIF orientation applied, grayscale,
    palette, RGBA and CMYK to 3-channel 8-bit BGR, 16 bits to 8 as OpenCV converts them; None when it cannot be
    decoded. A 16-bit frame of 12-bit data (all values < 4096) raises ValueError: as 8 bits it would be black. With
    `probes` (its folder's `Probes`), a dark frame is refused only when no probe holds full-range
    16-bit data: a dark frame of full-range 16-bit footage is read as cv2.imread reads it. What the decoder says
    about a damaged file goes into `said` (never onto stderr: a line per frame would break the progress bars)."""
    import cv2

    flags = cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH   # same orientation and channels
    img = _imread(path, flags, said)
    if img is None or img.dtype.itemsize == 1:
        return img
    if img.dtype.name != "uint16":   # 32-bit float or int TIFFs: cv2.imread has no 8-bit reading of them
        if said is not None:
            said.append(f"{img.dtype.name} samples, which OpenCV reads as no 8-bit picture: convert the frames to "
                        "8 or 16 bits")
        return None
    top = int(img.max())
    if top < LOW_16BIT and not (probes is not None and probes.full_range()):
        raise ValueError(f"image '{path}' is 16-bit with values only up to {top} (12-bit or less data): as 8 bits "
                         "it is nearly black; scale the frames to 8 bits first (12-bit data: times 16, e.g. `mogrify "
                         "-evaluate multiply 16 -depth 8 *.png` in a copy)")
    return _imread(path, cv2.IMREAD_COLOR)   # OpenCV's own 16 -> 8 bit conversion, exactly
