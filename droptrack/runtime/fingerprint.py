"""Content identities of what a `dt run` journal pins (`runtime.resume`): a `touch`, a copy or a restore from backup
keeps them, other weights or other frames change them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from droptrack.artifact import sha256_file

CHUNK = 1 << 20        # bytes per sampled chunk of a large source file
WHOLE_UP_TO = 4 * CHUNK  # files up to this size are hashed whole


def sampled_sha256(path: Path) -> str:
    """sha256 of size + the whole file up to 4 MiB, else of 1 MiB at 0, 1/3, 2/3 and the end (blind to edits between)"""
    size = path.stat().st_size
    h = hashlib.sha256(f"{size}\n".encode())
    with open(path, "rb") as f:
        if size <= WHOLE_UP_TO:
            h.update(f.read())
        else:
            for offset in (0, (size - CHUNK) // 3, 2 * (size - CHUNK) // 3, size - CHUNK):
                f.seek(offset)
                h.update(f.read(CHUNK))
    return h.hexdigest()


def folder_sha256(frames: list[Path]) -> str:
    """sha256 of every frame's name and size, in reading order, and of the first, middle and last frame's content."""
    h = hashlib.sha256()
    for p in frames:
        h.update(f"{p.name}\t{p.stat().st_size}\n".encode())
    for p in dict.fromkeys((frames[0], frames[len(frames) // 2], frames[-1])) if frames else ():
        h.update(sampled_sha256(p).encode())
    return h.hexdigest()


def source_id(source: str) -> dict | None:
    """A video file's or image folder's content identity (None: a camera, pipeline or stream, refused by --resume)."""
    from droptrack.imagefiles import sorted_images

    path = Path(os.path.expanduser(source))
    if path.is_dir():
        frames = sorted_images(path)
        return {"frames": len(frames), "sha256": folder_sha256(frames)}
    return {"sha256": sampled_sha256(path)} if path.is_file() else None


def model_id(artifact: str | None, locations: list[str] | None = None) -> dict:
    """The sha256 of the model's weight file: --checkpoint / --model, or the built-in default model (None); an ONNX
    graph that keeps its weights in external data files adds each one's sha256 (the .onnx alone may not change;
    `locations`: those files, where the loader already parsed the graph)."""
    if artifact is None:
        from droptrack.model.default import default_checkpoint   # (droptrack.model imports torch)

        path = default_checkpoint()
    else:
        path = Path(os.path.expanduser(artifact))
    ident = {"builtin": artifact is None, "sha256": sha256_file(path)}
    data = external_data_sha256(path, locations)
    if data:
        ident["external_data"] = data
    return ident


def external_data_sha256(path: Path, locations: list[str] | None = None) -> dict[str, str] | None:
    """{location: sha256} of the external data files an .onnx graph reads (None: none, or not an .onnx file);
    `locations`: those files as `onnx_files.check_external_data` found them (the graph is not parsed again)."""
    names = external_data_files(path) if locations is None else locations
    return {name: sha256_file(path.parent / name) for name in names} or None


def external_data_files(path: Path) -> list[str]:
    """The external data files (locations beside it) an .onnx graph reads its tensors from; none for other files."""
    if path.suffix.lower() != ".onnx":
        return []
    import onnx

    from droptrack.engine.onnx_files import external_locations

    return external_locations(onnx.load(str(path), load_external_data=False))


def file_id(path: str | None) -> dict | None:
    """The sha256 of a small input file such as --config (None: not given)."""
    return None if path is None else {"sha256": sha256_file(Path(os.path.expanduser(path)))}


def config_id(value: str | None) -> dict | None:
    """--config's identity: a YAML file's sha256, or a shipped config's name and the sha256 of its text (resolved as
    droptrack.config.load_config resolves it, so a package upgrade that changes the config is noticed)."""
    import hashlib
    from importlib import resources

    from droptrack.config import names_a_file

    if value is None:
        return None
    if names_a_file(value):
        return file_id(value)
    text = (resources.files("droptrack") / "configs" / f"{value}.yaml").read_bytes()
    return {"name": str(value), "sha256": hashlib.sha256(text).hexdigest()}


def stat_id(path: str | None) -> dict | None:
    """What a format-1 journal recorded of a file (path, size, mtime), to check a journal an earlier droptrack wrote."""
    if path is None:
        return None
    p = Path(os.path.expanduser(path))
    if not p.exists():
        return {"path": str(path)}
    st = p.stat()
    return {"path": str(p.resolve()), "size": st.st_size if p.is_file() else None, "mtime_ns": st.st_mtime_ns}
