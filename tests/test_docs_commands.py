"""The docs' `dt` command lines and `dt VERB --help` examples are valid for the current CLI (verb, option names,
value forms, documented choices), and the README's stated defaults are the code's. Nothing is run."""

from __future__ import annotations

import re
import shlex
from typing import Any, Iterator

import pytest
from typer.testing import CliRunner

from doc_commands import CHOICES, DOC_FILES, ROOT, _dt_words, command_tree, doc_commands, problems
from droptrack.cli import app

TREE = command_tree()
README_MD = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))}
SERVE_DOC = PAGES["serve.md"]   # the README's dt serve section continues there
README = README_MD + "\n" + "\n".join(PAGES.values())   # the README and the pages it links to, as one text
# the docs pages of commands, and the commands whose options each one names
COMMAND_PAGES = {"run.md": ("run",), "eval.md": ("eval", "analyze"), "bench.md": ("bench",), "export.md": ("export",),
                 "doctor.md": ("doctor",), "train.md": ("train", "eval"), "data.md": ("data synth", "data xywh")}


def leaf(path: str) -> Any:
    """The command that `path` ('run', 'data synth') names."""
    cmd = TREE
    for word in path.split():
        cmd = cmd.commands[word]
    return cmd


def option(path: str, name: str) -> Any:
    """The parameter behind option `name` of command `path`."""
    return next(p for p in leaf(path).params if name in (*p.opts, *p.secondary_opts))


def option_names(path: str) -> set[str]:
    """Every option name (long, short, secondary) of command `path`."""
    return {n for p in leaf(path).params for n in (*p.opts, *p.secondary_opts)}


def leaves(cmd: Any = TREE, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every command (not group) of `dt`, as its path."""
    for name, sub in cmd.commands.items():
        if hasattr(sub, "commands"):
            yield from leaves(sub, path + (name,))
        else:
            yield " ".join(path + (name,))


@pytest.mark.parametrize("name", DOC_FILES)
def test_doc_command_lines_are_valid_for_the_cli(name):
    commands = doc_commands((ROOT / name).read_text(encoding="utf-8"), name)
    least = 10 if name in ("README.md", "benchmarks/README.md", "benchmarks/default_model.md") else 1
    assert len(commands) >= least, f"{name}: the extraction found almost no dt lines: {commands}"
    stale = [f"{c}\n    -> {'; '.join(p)}" for c in commands if (p := problems(c.words, TREE))]
    assert not stale, "stale dt command lines in the docs:\n" + "\n".join(stale)


def test_the_check_finds_stale_lines_in_fenced_blocks_and_inline_code():
    doc = ("Run `dt run clip.mp4 --int 1,2,3,4` or `dt bench ARTIFACT... [--trackr csrt]`.\n\n"
           "```bash\n# a comment: dt run --bogus\nDT_DATA=/d dt eval --dataset lasott \\\n    --workers N\n"
           "dt export m.pt --precision fp8 && dt runn x\n"
           "torchrun --nproc_per_node 2 -m droptrack.train --epoch 3\n```\n")
    found: dict[str, list[str]] = {}
    for c in doc_commands(doc, "x.md"):
        found.setdefault(c.where, []).extend(problems(c.words, TREE))
    assert found == {
        "x.md:1": ["dt run has no option --int (did you mean --init?)",
                   "dt bench has no option --trackr (did you mean --tracker?)"],
        "x.md:5": ["dt eval: --dataset 'lasott' is not a valid value"],   # the comment line 4 is not read
        "x.md:7": ["dt export: --precision 'fp8' is not a valid value (fp32 | fp16 | int8)",
                   "dt has no command 'runn' (did you mean 'run'?)"],
        "x.md:8": ["dt train has no option --epoch (did you mean --epochs?)"],
    }


@pytest.mark.parametrize("line, problem", [
    ("run a.mp4 b.mp4", "dt run takes 1 argument(s), the line has 2"),
    ("run x --max-frames ten", "dt run: --max-frames takes an integer, not 'ten'"),
    ("run x --lost-threshold low", "dt run: --lost-threshold takes a number, not 'low'"),
    ("run x --show=yes", "dt run: --show is a switch and takes no value (given 'yes')"),
    ("run x --init --show", "dt run: --init needs a value, but is followed by --show"),
    ("bench m.onnx --device cuda:0", "dt bench: --device 'cuda:0' is not a valid value (cpu | cuda)"),
    ("bench m.onnx --tracker csrt,kfc", "dt bench: --tracker 'csrt,kfc' is not a valid value "
                                        "(csrt | kcf | mil | mosse | medianflow)"),
    ("data synth o --attributes all,bogus", "dt data synth: --attributes 'all,bogus' is not a valid value"),
    ("eval --dataset lasot --tracker csrt|kfc", "dt eval: --tracker 'kfc' is not a valid value "
                                            "(csrt | kcf | mil | mosse | medianflow)"),
    ("run x --scale-search big", "dt run: --scale-search 'big' is not a valid value"),
    ("data", None), ("--help", None), ("run --crop-grid", None), ("run v.mp4 --init ... --jsonl -", None),
    ("train ... (as stage 2) --seed 2", None), ("run SOURCE --init x,y,w,h --model ARTIFACT", None),
    ("data synth OUT --split val --seed S --attributes all,attached", None),
    ("run x --device cuda:1 --pre host --scale-search 0.8,1.2 --crop-grid off", None),
    ("export CKPT --precision fp16,int8 --calib got10k:/data/got10k --int8-target trt,ort", None),
])
def test_the_check_of_one_line(line, problem):
    assert problems(tuple(line.split()), TREE) == ([problem] if problem else [])


def test_documented_choices_are_the_ones_the_option_help_lists():
    for (path, name), check in CHOICES.items():
        param = option(path, name)   # StopIteration: the table names an option the CLI no longer has
        help_text = " ".join((param.help or "").split())
        for value in getattr(check, "listed", []):
            assert re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", help_text), (path, name, value, help_text)


def help_examples(path: str) -> list[list[str]]:
    """The `dt ...` lines under 'Examples:' in `dt PATH --help`, as word lists."""
    out = CliRunner().invoke(app, [*path.split(), "--help"], prog_name="dt", terminal_width=200).output
    lines = [ln.strip() for ln in out.splitlines()]
    assert "Examples:" in lines, f"dt {path} --help shows no example:\n{out}"
    examples = []
    for line in lines[lines.index("Examples:") + 1:]:
        if not line:
            break
        examples += list(_dt_words(shlex.split(line)))
    return examples


@pytest.mark.parametrize("path", [p for p in leaves() if p != "version"])
def test_every_command_help_shows_a_valid_example(path):
    examples = help_examples(path)
    assert examples, f"dt {path} --help: no dt line under Examples:"
    for words in examples:
        assert words[:len(path.split())] == path.split(), (path, words)
        assert problems(tuple(words), TREE) == [], (path, words)


def foreign_options(text: str, verbs: tuple[str, ...], not_ours: set[str]) -> list[str]:
    """The options that `text` names in code spans (not `dt ...` lines) which none of `verbs` has, and those of
    `not_ours` (named on purpose as not ours) that one of them has."""
    ours = set().union(*(option_names(v) for v in verbs))
    wrong = []
    for span in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
        if re.match(r"(dt|torchrun|python)\b", span):
            continue
        for name in re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*\*?)", span):
            known = any(o.startswith(name[:-1]) for o in ours) if name.endswith("*") else name in ours
            if known == (name in not_ours):
                wrong.append(name)
    return wrong


def test_readme_command_table_names_only_options_of_its_row():
    rows = re.findall(r"^\| `dt ((?:data )?\w+)[^`]*` \| (.*) \|$", README_MD, flags=re.M)
    assert {verb for verb, _ in rows} == set(leaves()) - {"version"}, "the table lists every command"
    wrong = [f"{verb}: {name}" for verb, text in rows for name in foreign_options(text, (verb,), set())]
    assert not wrong, wrong


# options a page names on purpose that are not its command's: Polygraphy's, and one it says eval lacks
NOT_OURS = {"export.md": {"--layer-precisions"}, "eval.md": {"--resume"}, "train.md": {"--no-deps"}}   # pip's


@pytest.mark.parametrize("page", sorted(COMMAND_PAGES))
def test_command_pages_name_only_options_of_their_commands(page):
    assert page in PAGES, f"docs/{page} is gone; the README's command table links to it"
    wrong = foreign_options(PAGES[page], COMMAND_PAGES[page], NOT_OURS.get(page, set()))
    assert not wrong, f"docs/{page} names options that {COMMAND_PAGES[page]} lack: {sorted(set(wrong))}"


def test_the_option_check_finds_a_foreign_option():
    text = "Use `--init 1,2,3,4`, `--bogus` and, in `dt bench --frames 9`, another command's.\n```\n--nope\n```"
    assert foreign_options(text, ("run",), set()) == ["--bogus"]
    assert foreign_options("`--resume` is not eval's", ("eval",), {"--resume"}) == []
    assert foreign_options("`--workers 2` is eval's", ("eval",), {"--workers"}) == ["--workers"]


def test_readme_serve_section_names_only_serve_options():
    section = README_MD.split("## Watch and steer")[1].split("\n## ")[0] + SERVE_DOC
    section = re.sub(r"```.*?```", "", section, flags=re.S)
    spans = [s for s in re.findall(r"`([^`]+)`", section) if not re.match(r"(dt|ssh)\b", s)]
    named = {n for s in spans for n in re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", s)}
    assert len(named) > 10 and named <= option_names("serve"), named - option_names("serve")


def default(path: str, name: str) -> Any:
    """The default value of option `name` of command `path`."""
    return option(path, name).default


def readme_number(pattern: str, group: int = 1) -> float:
    """The number that `pattern` captures in the README (line breaks read as spaces)."""
    match = re.search(pattern, " ".join(README.split()))
    assert match, f"README no longer says {pattern!r}"
    return float(match.group(group))


def test_readme_defaults_are_the_code_defaults():
    assert re.search(r"writes everything into `droptrack-demo/` \(`-o DIR`", README)
    assert str(default("demo", "--output")) == "droptrack-demo" and "-o" in option_names("demo")
    assert readme_number(r"\(`--max-targets`, default (\d+)\)") == default("serve", "--max-targets")
    assert readme_number(r"`--connect-timeout S` \(default (\d+)\)") == default("serve", "--connect-timeout")
    assert readme_number(r"lost_threshold=([\d.]+)\)` \(`dt run`'s flag\)") == default("run", "--lost-threshold")
    assert re.search(r"binds 127\.0\.0\.1 ", README) and default("serve", "--host") == "127.0.0.1"
    assert "http://127.0.0.1:8080/" in README and default("serve", "--port") == 8080
    from droptrack.serve.stats import STATS_WINDOW

    assert readme_number(r"mean and p99 over the last (\d+) frames") == STATS_WINDOW


def test_readme_and_bench_help_gate_defaults_are_the_code_defaults():
    from droptrack.eval.bench_gates import DEFAULT_MAX_AUC_DROP, DEFAULT_MAX_DIVERGENCE

    stated = r"`--max-divergence`, default FP16 (\d+) %, INT8 (\d+) %"
    assert readme_number(stated) == 100 * DEFAULT_MAX_DIVERGENCE["fp16"]
    assert readme_number(stated, group=2) == 100 * DEFAULT_MAX_DIVERGENCE["int8"]
    auc = " ".join(option("bench", "--max-auc-drop").help.split())
    assert "(default 0.1 FP32, 0.5 FP16, 1.0 INT8)" in auc and DEFAULT_MAX_AUC_DROP == {"fp32": 0.1, "fp16": 0.5,
                                                                                          "int8": 1.0}
    div = " ".join(option("bench", "--max-divergence").help.split())
    assert "(default 0.01 FP32/FP16, 0.03 INT8)" in div and DEFAULT_MAX_DIVERGENCE == {"fp32": 0.01, "fp16": 0.01,
                                                                                         "int8": 0.03}


def test_readme_thread_defaults_are_what_the_planner_does(tmp_path):
    from droptrack.engine.threads import SMALL_MODEL_BYTES, plan_threads

    text = " ".join(README.split())
    assert ("by default `OMP_NUM_THREADS` when it is set, else 1 thread for small models (like the embedded one) "
            "and cores / workers for others, so threads x workers never exceeds the usable cores") in text
    for verb in ("run", "serve", "eval", "bench"):
        assert "--threads" in option_names(verb)
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:   # sparse: a large model file without writing its bytes
        f.truncate(SMALL_MODEL_BYTES + 1)
    assert plan_threads(None, None, workers=1, usable=8, env={}).threads == 1          # the embedded model
    assert plan_threads(None, str(big), workers=2, usable=8, env={}).threads == 4      # 8 cores / 2 workers
    assert plan_threads(None, None, workers=2, usable=8, env={"OMP_NUM_THREADS": "3"}).threads == 3
    assert plan_threads(None, str(big), workers=2, usable=8, env={"OMP_NUM_THREADS": "16"}).threads == 4  # capped


def test_docs_install_only_extras_the_package_has():
    tomllib = pytest.importorskip("tomllib")   # Python 3.11+

    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    named = {e for name in DOC_FILES for group in re.findall(r"\.\[([a-z0-9,-]+)\]", (ROOT / name).read_text())
             for e in group.split(",")}
    assert {"cpu", "gpu", "dev", "web"} <= named <= extras, named - extras


def test_docs_link_and_name_only_files_that_exist():
    # a script the docs name as merged into benchmarks/bench_classic.py, in the record of how version 3 was measured
    gone = {"benchmarks/bench_hard_default.py"}
    missing = []
    for name in DOC_FILES:
        doc = ROOT / name
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):   # Markdown links, relative to the doc
            target = target.split("#")[0]
            if target and not re.match(r"[a-z]+:", target) and not (doc.parent / target).exists():
                missing.append(f"{name}: link {target}")
        for path in re.findall(r"(?<![\w/.-])((?:benchmarks|tests|droptrack|docs)/[\w./-]*\w/?)", text):
            if path not in gone and not (ROOT / path).exists():   # repository paths, from its root
                missing.append(f"{name}: {path}")
    assert not missing, missing


def test_readme_and_help_tracker_extension_defaults_are_the_config_defaults():
    from droptrack.config import TestCfg
    from droptrack.runtime.reconnect import ReconnectPolicy

    assert readme_number(r"`REACQ_FRAMES` \((\d+)\)") == TestCfg.REACQ_FRAMES
    assert readme_number(r"`REACQ_THRESHOLD` \(([\d.]+)\)") == TestCfg.REACQ_THRESHOLD
    assert readme_number(r"`REACQ_RECOVER` \(([\d.]+),") == TestCfg.REACQ_RECOVER
    assert readme_number(r"`TEMPLATE_REFRESH_EVERY` \((\d+)\)") == TestCfg.TEMPLATE_REFRESH_EVERY
    assert readme_number(r"`SCALE_PENALTY` \(\(0, 1\], ([\d.]+)\)") == TestCfg.SCALE_PENALTY
    assert "prediction (`motion`, default)" in " ".join(README.split()) and TestCfg.REACQ_CENTER == "motion"
    for name, value in (("--reacq-threshold", TestCfg.REACQ_THRESHOLD), ("--reacq-frames", TestCfg.REACQ_FRAMES),
                        ("--reacq-recover", TestCfg.REACQ_RECOVER), ("--scale-penalty", TestCfg.SCALE_PENALTY),
                        ("--template-refresh-every", TestCfg.TEMPLATE_REFRESH_EVERY)):
        assert f"default {value})" in " ".join(option("run", name).help.split()), name
    policy = ReconnectPolicy()
    assert readme_number(r"exponential backoff \(([\d.]+) s doubling") == policy.backoff_s
    assert readme_number(r"exponential backoff \([\d.]+ s doubling to ([\d.]+) s\)") == policy.max_backoff_s
