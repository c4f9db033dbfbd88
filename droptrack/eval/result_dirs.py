"""dt analyze's result folders before any is scored: each is a folder, not a submission zip, and not dt eval's --output
that holds one folder per tracker; the hint for the last is the command again with the tracker folders in its place,
so that it pastes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from droptrack.errors import InputError, shell_join
from droptrack.eval.results import find_result
from droptrack.wording import counted


def analyze_options(dataset: str, root: Any = None, split: str | None = None, protocol: str | None = None,
                    attributes: Any = None, sequences: str | None = None, output: Any = None,
                    per_sequence: bool = False) -> list[str]:
    """dt analyze's words after its result folders, as given (`output`: only an --output the user passed): a hint
    that names other folders to pass is then the whole command, which runs as the user's would."""
    words = ["--dataset", dataset]
    for flag, value in (("--root", root), ("--split", split), ("--protocol", protocol), ("--attributes", attributes),
                        ("--sequences", sequences), ("--output", output)):
        if value is not None:
            words += [flag, str(value)]
    return words + (["--per-sequence"] if per_sequence else [])


def check_result_dirs(dirs: Sequence[Path], sequences: Sequence[Any], protocol: str,
                      options: Sequence[str] | None = None) -> None:
    """Refuse, in one line with the fix, a result folder that is missing, a file, a zip or a folder of tracker
    folders; `options`: the command's words after its folders (analyze_options), for a hint that pastes."""
    for d in dirs:
        if not d.is_dir():
            _check_archive(d)
            raise InputError(f"result folder {d} {'is a file' if d.exists() else 'does not exist'}; pass the folder "
                             "holding <sequence>.txt files")
        _check_not_a_parent(d, sequences, protocol, dirs, options)


def _check_not_a_parent(result_dir: Path, sequences: Sequence[Any], protocol: str, dirs: Sequence[Path],
                        options: Sequence[str] | None) -> None:
    """A folder of tracker folders (dt eval's --output) passed instead of the tracker folders: say which to pass,
    as the command with them in its place (it said `dt analyze A B` alone, which stops at the missing --dataset).
    Under the TrackingNet devkit, which scores a missing file as misses, a folder without any is refused too (a wrong
    folder would otherwise score as a tracker that missed everything)."""
    def found(folder: Path) -> bool:
        return any(find_result(folder, q.name, getattr(q, "dataset", None)) for q in sequences)

    if found(result_dir):
        return
    subs = sorted(p for p in result_dir.iterdir() if p.is_dir() and found(p))
    if subs:
        if options is None:   # no command to repeat (the Python API): the folders only
            hint = shell_join(["dt", "analyze", *subs[:3]]) + (" ..." if len(subs) > 3 else "")
        else:
            given = [w for d in dirs for w in (subs if d == result_dir else [d])]
            hint = shell_join(["dt", "analyze", *given, *options])
        raise InputError(f"{result_dir} holds tracker folders ({', '.join(p.name for p in subs)}), not result files; "
                         f"pass those folders: {hint}")
    if protocol == "trackingnet-devkit":
        raise InputError(f"{result_dir} holds no result file of the {counted(len(sequences), 'sequence')} (looked for "
                         f"{sequences[0].name}.txt and the others); pass the folder holding the tracker's "
                         "<sequence>.txt files")


def _check_archive(path: Path) -> None:
    """A submission zip (GOT-10k, TrackingNet) given as a result folder: say how to unpack it."""
    import zipfile

    if path.is_file() and zipfile.is_zipfile(path):
        folder = path.with_suffix("") if path.suffix else path.with_name(f"{path.name}_files")
        raise InputError(f"{path} is a zip archive, not a result folder; unpack it and pass the folder: "
                         f"{shell_join(['unzip', '-d', folder, path])}, then "
                         f"{shell_join(['dt', 'analyze', folder])} ...")
