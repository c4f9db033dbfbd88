"""Full-disk check of "nothing is lost": each `dt` command on tiny inputs is run once without a limit, then once per
distinct size of the files that run wrote, under a file-size limit (RLIMIT_FSIZE, as `ulimit -f`) one byte below it,
so that each of its files in turn is the first that finds no room.

Checked after each limited run: exit 2, the last stderr line 'error: no room left writing ...', no traceback, and
every file under the output folder complete (a PNG ends with IEND, a JPEG with EOI, JSON parses, each JSONL line
parses, a .txt ends with a newline, a zip passes its CRC test, an ONNX graph loads), and after exit 0 every file the
unlimited run wrote there; `--pre DIR` copies DIR into the
output folder before each run (an earlier complete run's files, which must stay whole too). A run that fits under
the limit (exit 0) passes when its files are complete.

    nice -n 10 python benchmarks/size_limit_sweep.py --work /tmp/sweep -- dt eval --dataset synth --root SET -m tiny.pt -o OUT
    nice -n 10 python benchmarks/size_limit_sweep.py --work /tmp/sweep --runs 8 -- dt export tiny.pt --fp16 -o OUT
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

EXEC_WITH = Path(__file__).resolve().parents[1] / "tests" / "exec_with.py"


def incomplete(name: str, data: bytes) -> str | None:
    """Why a file of this name and these bytes is cut short or malformed (None: it is whole)."""
    ext = Path(name).suffix.lower()
    try:
        if ext == ".png" and not data.endswith(b"IEND\xaeB`\x82"):
            return "PNG without its IEND chunk"
        if ext in (".jpg", ".jpeg") and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
            return "JPEG without its end marker"
        if ext == ".json":
            json.loads(data)
        if ext == ".jsonl":
            for line in data.splitlines():
                json.loads(line)
        if ext in (".jsonl", ".txt", ".csv") and data and not data.endswith(b"\n"):
            return "a line cut short"
    except ValueError as exc:
        return f"does not parse ({str(exc)[:60]})"
    return None


def check_tree(out: Path) -> list[str]:
    """The files under `out` that are not whole ('NAME: why')."""
    bad = []
    for p in sorted(out.rglob("*")) if out.exists() else []:
        if not p.is_file():
            continue
        why = incomplete(p.name, p.read_bytes())
        if why is None and p.suffix == ".zip":
            try:
                with zipfile.ZipFile(p) as z:
                    why = None if z.testzip() is None else "a member fails its CRC"
            except zipfile.BadZipFile:
                why = "not a zip archive"
        if why is None and p.suffix == ".onnx":
            try:
                import onnx

                onnx.load(str(p), load_external_data=False)
            except Exception as exc:  # noqa: BLE001 - any parse failure is a cut graph
                why = f"does not load ({type(exc).__name__})"
        if why is not None:
            bad.append(f"{p.relative_to(out)}: {why}")
    return bad


def verdict(rc: int, stderr: str, bad: list[str], missing: list[str] = ()) -> str | None:
    """Why a limited run broke the promise (None: it kept it); `missing`: files the unlimited run wrote that this
    one did not (a run that ends with exit 0 must have written them all: dt bench once made a full disk a note)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if "Traceback" in stderr:
        return "a traceback"
    if rc == 0 and missing:
        return f"exit 0 without files the unlimited run wrote: {list(missing)[:5]}"
    if rc == 0:
        return f"files cut short: {bad}" if bad else None
    if rc != 2 or not lines or not lines[-1].startswith("error: no room left writing"):
        return f"exit {rc}, last line {lines[-1][:160] if lines else ''!r}"
    return f"files cut short: {bad}" if bad else None


def names(folder: Path) -> list[str]:
    """The files under `folder`, by relative path (TensorBoard's events files, named by time and pid, by folder)."""
    return [str(p.parent.relative_to(folder) / "events.*") if p.name.startswith("events.out.tfevents.")
            else str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def run(argv: list[str], out: Path, pre: Path | None, limit: int | None) -> subprocess.CompletedProcess:
    """argv with OUT replaced by `out` (made afresh, from `pre` when given), under the size limit."""
    shutil.rmtree(out, ignore_errors=True)
    if pre is not None:
        shutil.copytree(pre, out, symlinks=True)
    cmd = [a.replace("OUT", str(out)) for a in argv]
    wrap = [sys.executable, "-B", str(EXEC_WITH)] + ([f"--file-size={limit}"] if limit is not None else []) + ["--"]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", COLUMNS="200")
    return subprocess.run(wrap + cmd, capture_output=True, text=True, env=env, timeout=1800)


def main() -> None:
    """Parse options, run the sweep, print one line per limit and the count of broken promises."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=10, help="at most this many limits (spread over the sizes)")
    ap.add_argument("--pre", type=Path, default=None, help="a folder copied into OUT before each run")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- dt COMMAND ... with OUT for the output folder")
    args = ap.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    ref = run(argv, args.work / "ref", args.pre, None)
    if ref.returncode != 0:
        raise SystemExit(f"the unlimited run failed: {ref.stderr.strip().splitlines()[-1:]}")
    sizes = sorted({p.stat().st_size for p in (args.work / "ref").rglob("*") if p.is_file() and p.stat().st_size})
    if len(sizes) > args.runs:
        sizes = sorted({sizes[i * len(sizes) // args.runs] for i in range(args.runs)} | {sizes[-1]})
    broken = 0
    for size in sizes:
        out = args.work / f"limit_{size - 1}"
        p = run(argv, out, args.pre, size - 1)
        missing = sorted(set(names(args.work / "ref")) - set(names(out)))
        why = verdict(p.returncode, p.stderr, check_tree(out), missing)
        last = ([ln for ln in p.stderr.splitlines() if ln.strip()] or [""])[-1]
        print(f"{'BROKEN' if why else 'ok':6s} limit {size - 1:>9d} B  exit {p.returncode}  "
              f"{why or last[:150]}", flush=True)
        broken += why is not None
    print(f"{len(sizes)} limits, {broken} broken")


if __name__ == "__main__":
    main()
