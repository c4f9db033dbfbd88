"""Kill-anywhere check of the "nothing is lost" promise: each `dt` command is killed at a random time and rerun.

For each command on tiny inputs: one uninterrupted reference run, then TRIALS runs killed (SIGKILL, SIGINT or
SIGTERM) at a time drawn uniformly over the reference run's duration after the interpreter's start-up (every other
trial: over the part of it after its first output file appeared, where the windows are; fixed seed),
each followed by the documented rerun (`--resume` where the command has it). Checked after the kill: a file under its
final name is complete (byte-equal to the reference where the output is deterministic, else parseable with the
reference's line count; after `dt run`'s documented stop on SIGINT / SIGTERM / SIGHUP, exit 130 / 143 / 129, which
renames its outputs complete up to the last frame for --resume, a whole-line prefix of the reference's). Checked
after the rerun: exit 0, the same set of files as the reference (no leftover temp, part, lock or journal files,
nothing missing), deterministic files byte-equal, inputs unchanged (sha256).

    nice -n 10 python benchmarks/chaos_kill.py --work /tmp/chaos --trials 5 [--only run_folder,eval]
    nice -n 10 python benchmarks/chaos_kill.py --work /tmp/chaos --hooks 4   # SIGKILL at atomic-write renames
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SIGNALS = {"KILL": signal.SIGKILL, "INT": signal.SIGINT, "TERM": signal.SIGTERM}
# --hooks: a sitecustomize that SIGKILLs a process at its K-th os.replace (every atomic write ends with one), just
# before or just after the rename (DT_CHAOS_REPLACE=K:before|after); DT_CHAOS_COUNT names a file each process appends
# its number of os.replace calls to, so the reference run says which K exist.
HOOK = """import atexit, os, signal
_spec, _count = os.environ.get("DT_CHAOS_REPLACE"), os.environ.get("DT_CHAOS_COUNT")
if _spec or _count:
    _n, _real = [0], os.replace
    _k, _when = (int(_spec.split(":")[0]), _spec.split(":")[1]) if _spec else (0, "")
    def _replace(src, dst, *a, **kw):
        _n[0] += 1
        if _n[0] == _k and _when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        out = _real(src, dst, *a, **kw)
        if _n[0] == _k and _when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    os.replace = _replace
    if _count:
        atexit.register(lambda: open(_count, "a").write(f"{_n[0]}\\n"))
"""


@dataclass
class Case:
    """One command: its argv (OUT is replaced by the output folder), the rerun's extra flags, its file rules."""

    name: str
    argv: list[str]
    rerun_extra: list[str] = field(default_factory=list)
    exact: list[str] = field(default_factory=list)     # globs of files byte-equal to the reference
    loose: list[str] = field(default_factory=list)     # globs compared by line count / JSON parse only
    inputs: list[str] = field(default_factory=list)    # paths hashed before and after
    streamed: list[str] = field(default_factory=list)  # globs of logs appended to as it runs (not checked at a kill)
    # globs of files each process names anew (TensorBoard's events.out.tfevents.<time>.<host>.<pid>: a resumed run
    # writes its own next to the killed one's; a fresh rerun sets a killed run's tb/ aside as tb.N): compared by
    # presence, not by name
    per_process: list[str] = field(default_factory=list)
    stops: bool = False   # a soft signal ends it cleanly with its outputs complete up to the last frame (dt run)


STOPPED = {129, 130, 143}   # dt run's exit codes after a clean stop on SIGHUP / SIGINT / SIGTERM


def sha_tree(paths: list[Path]) -> str:
    """One sha256 over every file under the given paths (names and bytes)."""
    h = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            h.update(str(p).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def listing(out: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under `out`."""
    if not out.exists():
        return {}
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def match(name: str, globs: list[str]) -> bool:
    """Whether a relative path matches one of the globs."""
    return any(fnmatch.fnmatch(name, g) for g in globs)


def complete(name: str, data: bytes, ref: bytes, case: Case, stopped: bool = False) -> str | None:
    """Why a file under its final name does not look like the reference's (None: it does); `stopped`: the run ended
    by a clean stop, so a deterministic file may be the reference's first whole lines."""
    if match(name, case.exact):
        if data == ref or (stopped and ref.startswith(data) and data.endswith(b"\n")):
            return None
        return f"{name}: {len(data)} bytes differ from the reference's {len(ref)}"
    if match(name, case.loose):
        if name.endswith(".json"):
            try:
                json.loads(data)
            except ValueError:
                return f"{name}: not JSON"
            return None
        lines, ref_lines = data.count(b"\n"), ref.count(b"\n")
        if name.endswith(".txt") and lines != ref_lines:
            return f"{name}: {lines} lines, reference {ref_lines}"
        return None if data else f"{name}: empty"
    return None


def unexpected(got: list[str], ref: list[str], case: Case) -> tuple[list[str], list[str]]:
    """(leftover, missing) file names of a finished run against the reference's; files named per process count as
    leftover or missing only as a kind: one such name is missing when none is there at all."""
    kinds = lambda names: {g for g in case.per_process for n in names if fnmatch.fnmatch(n, g)}  # noqa: E731
    named = [n for n in set(got) | set(ref) if not match(n, case.per_process)]
    extra = sorted(n for n in named if n in got and n not in ref)
    missing = sorted(n for n in named if n in ref and n not in got) + sorted(kinds(ref) - kinds(got))
    return extra, missing


def first_write(p: subprocess.Popen, out: Path, t0: float) -> float:
    """Wait for `p`, polling `out`: seconds from t0 until its first file appeared (the end when none did)."""
    while p.poll() is None:
        if out.exists() and any(f.is_file() for f in out.rglob("*")):
            return time.monotonic() - t0
        time.sleep(0.02)
    return time.monotonic() - t0


def run(argv: list[str], env: dict, kill_at: float | None, sig: int, log: Path,
        watch: Path | None = None) -> tuple[int, float, str, float]:
    """Run argv, deliver `sig` after `kill_at` seconds (None: never); exit code, seconds, stderr tail and, with
    `watch`, the seconds until the first file appeared in that folder."""
    t0 = time.monotonic()
    first = 0.0
    with open(log, "w") as err:
        p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        if watch is not None:
            first = first_write(p, watch, t0)
        try:
            p.wait(timeout=kill_at)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, sig) if sig == signal.SIGKILL else p.send_signal(sig)
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    return p.returncode, time.monotonic() - t0, " | ".join(tail), first


def cases(inp: Path) -> list[Case]:
    """The commands under test on the prepared tiny inputs."""
    seq = inp / "synth" / "synth_val_00001"
    init = (seq / "groundtruth.txt").read_text().splitlines()[0]
    video = inp / "clip.mp4"
    exact_eval = ["*/synth_val_0000?.txt", "*/got10k_submit/*/*_001.txt"]
    loose_eval = ["*.json", "*_time.txt", "*.png", "*.zip"]
    return [
        Case("synth", ["dt", "data", "synth", "OUT/set", "--split", "val", "-n", "4", "--frames", "30",
                       "--size", "160x120", "--seed", "3"], exact=["*"]),
        Case("run_folder", ["dt", "run", str(seq), "-m", str(inp / "tiny.pt"), "--init", init, "--device", "cpu",
                            "-o", "OUT/b.txt", "--jsonl", "OUT/b.jsonl"], ["--resume"],
             exact=["b.txt"], loose=["b.jsonl"], inputs=[str(seq), str(inp / "tiny.pt")], stops=True),
        Case("run_video_save", ["dt", "run", str(video), "-m", str(inp / "tiny.pt"), "--init", "60,40,40,50",
                                "--device", "cpu", "--max-frames", "30", "-o", "OUT/b.txt", "--save", "OUT/b.mp4"],
             ["--overwrite"], exact=["b.txt"], loose=["b.mp4"], inputs=[str(video), str(inp / "tiny.pt")],
             stops=True),
        Case("run_video_resume", ["dt", "run", str(video), "-m", str(inp / "tiny.pt"), "--init", "60,40,40,50",
                                  "--device", "cpu", "--max-frames", "80", "-o", "OUT/b.txt", "--jsonl", "OUT/b.jsonl"], ["--resume"],
             exact=["b.txt"], loose=["b.jsonl"], inputs=[str(video), str(inp / "tiny.pt")], stops=True),
        Case("eval", ["dt", "eval", "--dataset", "synth", "--root", str(inp / "synth"), "-m", str(inp / "tiny.pt"),
                      "--workers", "1", "-o", "OUT"], exact=exact_eval, loose=loose_eval,
             inputs=[str(inp / "synth"), str(inp / "tiny.pt")]),
        Case("bench", ["dt", "bench", str(inp / "tiny.pt"), str(inp / "onnx" / "model.onnx"), "--data", "synth",
                       "--sequences", "3", "--frames", "20", "-o", "OUT"], ["--resume"],
             exact=["synth_val_3x20/*", "results/" + exact_eval[0], "results/" + exact_eval[1]],
             loose=["*.json", "*.md", "*.png", "*.txt", "*.zip"], inputs=[str(inp / "tiny.pt"), str(inp / "onnx")]),
        Case("analyze", ["dt", "analyze", str(inp / "evalres" / "tiny"), "--dataset", "synth",
                         "--root", str(inp / "synth"), "-o", "OUT"], loose=["*"],
             inputs=[str(inp / "evalres"), str(inp / "synth")]),
        Case("export", ["dt", "export", str(inp / "tiny.pt"), "-o", "OUT"], exact=["*.onnx"], loose=["*.json"],
             inputs=[str(inp / "tiny.pt")]),
        Case("export_int8", ["dt", "export", str(inp / "tiny.pt"), "--int8", "--calib-pairs", "8", "-o", "OUT"],
             exact=["*.onnx"], loose=["*.json"], inputs=[str(inp / "tiny.pt")]),
        Case("train", ["dt", "train", "--config", "tiny_ce_test", "--data", str(inp / "train"), "--epochs", "2",
                       "--samples-per-epoch", "8", "--batch-size", "4", "--workers", "0", "--seed", "7",
                       "--device", "cpu", "--threads", "1", "--save-interval", "1", "--output", "OUT"], ["--resume"],
             loose=["*.pt", "*.yaml", "*.log"], inputs=[str(inp / "train")], streamed=["train.log"],
             per_process=["tb/events.out.tfevents.*", "tb.*/events.out.tfevents.*", "train.log.*"]),
    ]


def prepare(inp: Path, env: dict) -> None:
    """Tiny inputs: a val set, a train set, a random tiny checkpoint, its ONNX graph, an eval result, a clip."""
    if (inp / "ready").exists():
        return
    shutil.rmtree(inp, ignore_errors=True)
    inp.mkdir(parents=True)
    sh = lambda *a: subprocess.run(a, env=env, check=True, cwd=inp, capture_output=True)  # noqa: E731
    sh("dt", "data", "synth", "synth", "--split", "val", "-n", "3", "--frames", "20", "--size", "160x120")
    sh("dt", "data", "synth", "train", "-n", "2", "--frames", "20", "--size", "160x120")
    sh(sys.executable, "-c", "import torch\nfrom droptrack.config import load_config\n"
       "from droptrack.model import build_model\nfrom droptrack.model.checkpoint import save_checkpoint\n"
       "from droptrack.data.media import bundled_video\nimport shutil\n"
       "torch.manual_seed(0); cfg = load_config('tiny_ce_test')\n"
       "save_checkpoint('tiny.pt', build_model(cfg).eval(), cfg)\n"
       "shutil.copy(bundled_video('carphone_pristine.mp4'), 'clip.mp4')")
    sh("dt", "export", "tiny.pt", "-o", "onnx")
    sh("dt", "eval", "--dataset", "synth", "--root", "synth", "-m", "tiny.pt", "-o", "evalres")
    (inp / "ready").touch()


def trial(case: Case, out: Path, env: dict, ref: dict[str, bytes], kill_at: float | None, sig: int,
          log: Path, hook_env: dict | None = None) -> list[str]:
    """One killed run and its rerun (under `hook_env` when given); the violations found."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    argv = [a.replace("OUT", str(out)) for a in case.argv]
    before = sha_tree([Path(p) for p in case.inputs]) if case.inputs else ""
    bad: list[str] = []
    if kill_at is not None:
        rc, _, tail, _ = run(argv, env, kill_at, sig, log)
        stopped = case.stops and rc in STOPPED
        for name, data in listing(out).items():
            if name in ref and not match(name, case.streamed) and (why := complete(name, data, ref[name], case,
                                                                                   stopped)):
                bad.append(f"after kill (rc {rc}): {why}")
    env = hook_env or env
    rc, _, tail, _ = run(argv + case.rerun_extra, env, None, sig, log)
    if rc != 0 and case.rerun_extra == ["--resume"]:  # nothing to resume (killed before the journal): a fresh run
        first = tail
        rc, _, tail, _ = run(argv + ["--overwrite"] if case.name.startswith("run") else argv, env, None, sig, log)
        print(f"  note {case.name}: --resume refused ({first}); fresh rerun exit {rc}", flush=True)
    if rc != 0:
        bad.append(f"rerun exit {rc}: {tail}")
    got = listing(out)
    extra, missing = unexpected(list(got), list(ref), case)
    if extra:
        bad.append(f"leftover files: {extra[:5]}")
    if missing:
        bad.append(f"missing files: {missing[:5]}")
    for name in sorted(set(got) & set(ref)):
        if why := complete(name, got[name], ref[name], case):
            bad.append(f"final: {why}")
    if case.inputs and sha_tree([Path(p) for p in case.inputs]) != before:
        bad.append("an input changed")
    return bad


def main() -> None:
    """Parse options, run every case, print the table and write the details as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--trials", type=int, default=5, help="SIGKILL trials per command")
    ap.add_argument("--soft-trials", type=int, default=2, help="SIGINT and SIGTERM trials per command")
    ap.add_argument("--only", default="")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hooks", type=int, default=0, help="instead of signals: SIGKILL at up to N os.replace calls "
                    "(each before and after the rename), spread over the reference run's")
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", COLUMNS="200")
    if args.hooks:
        (args.work / "hook").mkdir(parents=True, exist_ok=True)
        (args.work / "hook" / "sitecustomize.py").write_text(HOOK)
        env["PYTHONPATH"] = os.pathsep.join([str(args.work / "hook"), env.get("PYTHONPATH", "")])
    inp = args.work / "in"
    prepare(inp, env)
    rng = random.Random(args.seed)
    t = time.monotonic()
    subprocess.run(["dt", "--version"], env=env, capture_output=True)
    startup = time.monotonic() - t
    rows, details = [], []
    for case in cases(inp):
        if args.only and case.name not in args.only.split(","):
            continue
        refdir = args.work / "ref" / case.name
        shutil.rmtree(refdir, ignore_errors=True)
        refdir.mkdir(parents=True)
        count = args.work / "replaces.txt"
        count.unlink(missing_ok=True)
        rc, dur, tail, first = run([a.replace("OUT", str(refdir)) for a in case.argv],
                                   dict(env, DT_CHAOS_COUNT=str(count)) if args.hooks else env, None, 0,
                                   args.work / "ref.log", watch=refdir)
        assert rc == 0, f"{case.name} reference failed: {tail}"
        ref = listing(refdir)
        if args.hooks:
            total = max(int(x) for x in count.read_text().split()) if count.exists() else 0
            points = sorted({round(1 + i * (total - 1) / max(args.hooks - 1, 1)) for i in range(args.hooks)}) \
                if total else []
            bad_trials = 0
            for k in points:
                for when in ("before", "after"):
                    out = args.work / "trial" / case.name
                    bad = trial(case, out, dict(env, DT_CHAOS_REPLACE=f"{k}:{when}"), ref, 1e9, signal.SIGKILL,
                                args.work / "trial.log", hook_env=env)
                    bad_trials += bool(bad)
                    details.append({"case": case.name, "replace": f"{k}:{when}", "violations": bad})
                    if bad:
                        print(f"  {case.name} os.replace {k}/{total} {when}: {bad}", flush=True)
            rows.append((case.name, "KILL@replace", 2 * len(points), bad_trials, dur))
            print(f"{case.name:18s} SIGKILL at {2 * len(points)} os.replace points of {total}: violations "
                  f"{bad_trials}", flush=True)
            continue
        for sname, sig in SIGNALS.items():
            n = args.trials if sname == "KILL" else args.soft_trials
            bad_trials = 0
            for i in range(n):
                # every other trial: uniform over the part of the run that writes files (start-up dominates)
                at = rng.uniform(startup, dur) if i % 2 == 0 else rng.uniform(min(first, dur) * 0.95, dur)
                out = args.work / "trial" / case.name
                bad = trial(case, out, env, ref, at, sig, args.work / "trial.log")
                bad_trials += bool(bad)
                details.append({"case": case.name, "signal": sname, "kill_at": round(at, 2), "violations": bad})
                if bad:
                    print(f"  {case.name} SIG{sname} at {at:.2f}s: {bad}", flush=True)
            rows.append((case.name, sname, n, bad_trials, dur))
            print(f"{case.name:18s} SIG{sname:5s} trials {n:3d}  violations {bad_trials:3d}  (ref {dur:.1f}s)",
                  flush=True)
    (args.work / "chaos.json").write_text(json.dumps(details, indent=1))
    print("\n| command | signal | trials | violations |\n|---|---|---|---|")
    for name, sname, n, bad, _ in rows:
        print(f"| {name} | SIG{sname} | {n} | {bad} |")


if __name__ == "__main__":
    main()
