"""Which files of a folder are frames, and their order: shared by `dt run` (image folders) and the dataset readers."""

from __future__ import annotations

import re
from pathlib import Path

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def numeric_key(name: str) -> tuple:
    """Sort key: the integers in a file name, then the name ('img2' < 'img10'; zero-padded names keep their order)."""
    return tuple(int(d) for d in re.findall(r"\d+", name)), name


def is_image_file(path: Path) -> bool:
    """An image suffix, not hidden (macOS '._0001.jpg' resource forks, '.DS_Store') and not a folder."""
    return path.suffix.lower() in IMAGE_EXTS and not path.name.startswith(".") and path.is_file()


def sorted_images(folder: Path, natural: bool = True) -> list[Path]:
    """The image files of an existing folder in natural order (1.png, 2.png, 10.png), or by name."""
    images = (p for p in folder.iterdir() if is_image_file(p))
    return sorted(images, key=lambda p: numeric_key(p.name)) if natural else sorted(images)
