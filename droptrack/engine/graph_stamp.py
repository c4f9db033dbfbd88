"""Is the ONNX graph beside an engine still the one it was built from? Cheap when nothing touched it.

The build records the graph's sha256 and its file stamp (size, mtime_ns, ctime_ns, inode) in the engine's sidecar.
A load whose graph still has that stamp trusts the sha256 without reading the graph (a ViT-B graph is ~350 MB,
whose hash took longer than the rest of an engine's load); any other stamp (a copy, a `touch`, a restore, an edit,
a new export) is checked by hashing the bytes, so a changed graph is never taken for the old one. ctime cannot be
set back by a user (utime, cp -p and tar set it to now), and an export replaces a graph by a rename (a new inode).
"""

from __future__ import annotations

import os
from pathlib import Path

STAMP_FIELDS = ("size", "mtime_ns", "ctime_ns", "inode")


def file_stamp(path: str | Path) -> dict[str, int]:
    """The file's stamp: what changes whenever its bytes may have changed (os.stat; OSError when it is gone)."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "inode": st.st_ino}


def hashed_with_stamp(path: str | Path) -> tuple[str, dict[str, int] | None]:
    """The file's sha256 and its stamp, for an engine's sidecar; stamp None when the file changed while it was read
    (then every load hashes it)."""
    from droptrack.artifact import sha256_file

    before = file_stamp(path)
    sha = sha256_file(path)
    return sha, before if file_stamp(path) == before else None


def same_bytes(path: str | Path, sha256: str, stamp: object = None) -> bool:
    """Whether `path` holds the bytes of `sha256`: by its recorded `stamp` where the file still has it (no read),
    else by hashing it. A stamp that is not a whole stamp (an older sidecar has none) is not trusted."""
    from droptrack.artifact import sha256_file

    whole = isinstance(stamp, dict) and set(stamp) == set(STAMP_FIELDS) and all(
        type(stamp[k]) is int for k in STAMP_FIELDS)
    if whole and file_stamp(path) == stamp:
        return True
    return sha256_file(path) == sha256
