"""`dt bench` table of the default model's PyTorch / ONNX FP32 / FP16 / INT8 forms on the synthetic benchmark.

The same two steps as `dt demo` (without the video), with the library functions behind the commands:
    dt export [CKPT] --fp16 --int8 --output WORK/export
    dt bench CKPT WORK/export/model.onnx WORK/export/model_fp16.onnx WORK/export/model_int8_trt.onnx \
        WORK/export/model_int8_ort.onnx \
        --data synthetic --sequences 8 --frames 40 --output WORK/bench
Copies bench.md / bench.json / success.png / latency.png to benchmarks/results/bench_default_<device>.* and
prints the table. Usage:
    python benchmarks/bench_demo.py [--model CKPT] [--sequences 8] [--frames 40] [--device cpu]
                                    [--threads N] [--work DIR] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from rich.console import Console

from droptrack.eval.bench import BenchOptions, run_bench
from droptrack.eval.bench_view import bench_table, summary_lines
from droptrack.export.pipeline import export_all
from droptrack.model.default import default_checkpoint
from droptrack.errors import print_plain, run_script


def portable(text: str, work: Path) -> str:
    """Recorded text without this machine's paths: the work folder -> <workdir>/, the repository -> relative."""
    repo = str(Path(__file__).resolve().parents[1]) + "/"
    return text.replace(str(work) + "/", "<workdir>/").replace(repo, "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", "--checkpoint", dest="checkpoint", default=None,
                    help="checkpoint (default: the embedded model)")
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args()
    console = Console(width=160)

    def say(line: str) -> None:   # lines name paths and files: plain text, not rich markup
        print_plain(console, line)

    ckpt = Path(args.checkpoint) if args.checkpoint else default_checkpoint()
    with tempfile.TemporaryDirectory(prefix="dt-bench-demo-") as tmp:
        work = Path(args.work or tmp)
        exported = export_all(ckpt, output_dir=work / "export", precisions=("fp32", "fp16", "int8"), strict=False,
                              log=say)
        artifacts = [str(ckpt)] + [str(r.path) for r in exported.results if r.ok]
        names = " ".join(["dt bench", str(ckpt.name)] + [Path(a).name for a in artifacts[1:]])
        threads = f" --threads {args.threads}" if args.threads else ""
        command = (f"{names} --data synthetic --sequences {args.sequences} --frames {args.frames} "
                   f"--device {args.device}{threads}  (python benchmarks/bench_demo.py)")
        report = run_bench(BenchOptions(artifacts=artifacts, data="synthetic", reference=str(ckpt),
                                        output_dir=work / "bench", sequences=args.sequences, frames=args.frames,
                                        device=args.device, threads=args.threads, command=command))
        console.print(bench_table(report))
        for line in summary_lines(report):
            say(line)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"bench_default_{args.device.split(':')[0]}"
        for src, suffix in (("success.png", "_success.png"), ("latency.png", "_latency.png")):
            if (work / "bench" / src).is_file():
                shutil.copyfile(work / "bench" / src, out / f"{stem}{suffix}")
        (out / f"{stem}.json").write_text(portable((work / "bench" / "bench.json").read_text(), work))
        md = portable((work / "bench" / "bench.md").read_text(), work)
        for plot in ("success", "precision", "latency"):
            md = md.replace(f"]({plot}.png)", f"]({stem}_{plot}.png)")
        (out / f"{stem}.md").write_text(md.replace(f"![precision]({stem}_precision.png)\n", ""))
        say(f"written: {out / stem}.md (.json, _success.png, _latency.png)")


if __name__ == "__main__":
    run_script(main)
