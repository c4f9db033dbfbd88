"""The `dt` command lines of the Markdown docs, and a check of each against the CLI's command tree (verb, option
names, whether an option takes a value, numbers and documented choices), without running anything."""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
# what users copy commands from; benchmarks/results/ holds records of past runs, kept as they were run
DOC_FILES = ("README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")), "benchmarks/README.md",
             "benchmarks/default_model.md")
SEPARATORS = {"&&", "||", ";", "|"}
ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*(\.\.\.)?|\.\.\.|.*<[^>]*>.*")   # NAME, ARTIFACT..., ..., <m>/model.onnx
NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE]-?\d+)?")


@dataclass(frozen=True)
class DocCommand:
    """One `dt` command line found in a doc: where it is and its words (without the leading `dt`)."""

    where: str
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: dt {' '.join(self.words)}"


def commands_in_shell(line: str) -> Iterator[list[str]]:
    """The `dt ...` word lists of one shell line: split at && || ; |, env assignments dropped, `python -m droptrack`
    and `-m droptrack.train` (torchrun) read as `dt` and `dt train`."""
    words: list[str] = []
    for token in shlex.split(line, comments=True) + [";"]:
        if token in SEPARATORS or token.endswith(";"):
            if token.endswith(";") and token != ";":
                words.append(token[:-1])
            yield from _dt_words(words)
            words = []
        else:
            words.append(token)


def _dt_words(words: list[str]) -> Iterator[list[str]]:
    while words and ENV_ASSIGNMENT.fullmatch(words[0]):
        words = words[1:]
    if words[:1] == ["dt"]:
        yield words[1:]
    elif "-m" in words:
        module = words[words.index("-m") + 1:]
        if module[:1] == ["droptrack"]:
            yield module[1:]
        elif module[:1] == ["droptrack.train"]:
            yield ["train", *module[1:]]


def _usage_words(words: list[str]) -> list[str]:
    """Usage notation as shell words: [optional] brackets dropped."""
    return [w for w in (t.strip("[]") for t in words) if w]


def doc_commands(text: str, name: str) -> list[DocCommand]:
    """Every `dt` command line of a Markdown text: in fenced code blocks (backslash continuations joined, comment
    lines skipped) and in inline code spans that start with `dt`."""
    found: list[DocCommand] = []
    prose: list[str] = []
    block: list[tuple[int, str]] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            if block is not None:
                found += _block_commands(block, name)
            block = [] if block is None else None
            prose.append("")
        elif block is not None:
            block.append((number, line))
            prose.append("")
        else:
            prose.append(line)
    joined = "\n".join(prose)
    for match in re.finditer(r"(?<!`)`([^`]+)`(?!`)", joined):
        span = " ".join(match.group(1).split()).replace("\\|", "|")
        first = span.split(" | ")[0]    # `dt run ... --jsonl - | head -3`: the part before the pipe
        if not re.match(r"([A-Z_][A-Z0-9_]*=\S+ )*dt( |$)", first):
            continue
        where = f"{name}:{joined.count(chr(10), 0, match.start()) + 1}"
        try:
            words = shlex.split(first)
        except ValueError as exc:
            found.append(DocCommand(where, ("<unparsable>", first, str(exc))))
            continue
        found += [DocCommand(where, tuple(_usage_words(w))) for w in _dt_words(words)]
    return found


def _block_commands(block: list[tuple[int, str]], name: str) -> list[DocCommand]:
    """The `dt` lines of one fenced block (line numbers of their first physical line)."""
    found, pending, start = [], "", 0
    for number, line in block:
        line = re.sub(r"`#[^`]*`", "", line)    # an inline comment as a command substitution
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text, pending = pending + line, ""
        if text.lstrip().startswith("#") or not re.search(r"(^|\s)(dt|-m droptrack\S*)\s", text + " "):
            continue
        try:
            for words in commands_in_shell(text):
                found.append(DocCommand(f"{name}:{start}", tuple(_usage_words(words))))
        except ValueError as exc:
            found.append(DocCommand(f"{name}:{start}", ("<unparsable>", text.strip(), str(exc))))
    return found


def _listed(text: str) -> Callable[[str], bool]:
    """A check for one of the values 'a|b|c' (':N' stands for a number: cuda:N)."""
    allowed = text.split("|")

    def ok(value: str) -> bool:
        return any(value == a or (a.endswith(":N") and re.fullmatch(re.escape(a[:-1]) + r"\d+", value))
                   for a in allowed)
    ok.listed = allowed
    return ok


def _comma_list(check: Callable[[str], bool]) -> Callable[[str], bool]:
    def ok(value: str) -> bool:
        return all(check(v.strip()) for v in value.split(","))
    ok.listed = getattr(check, "listed", [])
    return ok


def _number_or_off(value: str) -> bool:
    return value in ("off", "none") or all(NUMBER.fullmatch(v.strip()) for v in value.split(","))


def _dataset(value: str) -> bool:
    from droptrack.data.registry import canonical
    from droptrack.errors import DropTrackError

    try:
        canonical(value)
    except DropTrackError:
        return False
    return True


def _attributes(value: str) -> bool:
    from droptrack.data.synth_hard import parse_attributes
    from droptrack.errors import DropTrackError

    try:
        parse_attributes(value)
    except DropTrackError:
        return False
    return True


def _calib(value: str) -> bool:
    name = value.split(":", 1)[0]
    return name in ("synth", "photos") or _dataset(name)


TRACKERS = _listed("csrt|kcf|mil|mosse|medianflow")
DEVICE_RUN = _listed("cpu|cuda|cuda:N")
# the values an option accepts, as its --help lists them (test_docs_commands checks that the help lists them)
CHOICES: dict[tuple[str, str], Callable[[str], bool]] = {
    ("train", "--amp"): _listed("off|bf16|fp16"),
    ("train", "--device"): _listed("auto|cpu|cuda|cuda:N"),
    ("run", "--device"): DEVICE_RUN, ("serve", "--device"): DEVICE_RUN,
    ("eval", "--device"): _listed("cpu|cuda"), ("bench", "--device"): _listed("cpu|cuda"),
    ("run", "--pre"): _listed("host|device|auto"), ("serve", "--pre"): _listed("host|device|auto"),
    ("eval", "--tracker"): TRACKERS, ("bench", "--tracker"): _comma_list(TRACKERS),
    ("export", "--precision"): _comma_list(_listed("fp32|fp16|int8")),
    ("export", "--calib-method"): _listed("minmax|percentile|entropy"),
    ("export", "--int8-target"): _comma_list(_listed("trt|ort")),
    ("export", "--group-by"): _listed("layer|kind"),
    ("export", "--trt-typing"): _listed("strong|flags"),
    ("export", "--calib"): _calib,
    ("data synth", "--split"): _listed("train|val|test"),
    ("data synth", "--ext"): _listed("jpg|png"),
    ("data synth", "--difficulty"): _listed("hard|moderate"),
    ("data synth", "--attributes"): _attributes,
    ("analyze", "--protocol"): _listed("ostrack-ope|pytracking-ope|got10k-toolkit|trackingnet-devkit"),
    ("eval", "--dataset"): _dataset, ("analyze", "--dataset"): _dataset,
}
for _verb in ("run", "serve", "eval", "bench"):
    CHOICES[(_verb, "--reacq-center")] = _listed("last|motion")
    CHOICES[(_verb, "--scale-search")] = _number_or_off
    CHOICES[(_verb, "--crop-grid")] = _number_or_off
    CHOICES[(_verb, "--grid-window")] = _listed("crop|target")
    CHOICES[(_verb, "--scale-fuse")] = _number_or_off


def command_tree() -> Any:
    """The Click command group behind `dt`."""
    import typer

    from droptrack.cli import app

    return typer.main.get_command(app)


def _number_kind(param: Any) -> str | None:
    """'int' or 'float' for an option whose value is a number, else None."""
    kind = param.bare_type() if callable(getattr(param, "bare_type", None)) else getattr(param, "type", None)
    kind = str(getattr(kind, "name", kind)).lower()
    return next((k for k in ("int", "float") if re.fullmatch(rf"(optional\[)?(list\[)?{k}(eger)?\]?\]?", kind)),
                None)


def _value_problem(path: str, option: str, param: Any, value: str) -> str | None:
    """Why `value` is not a valid value of `option`, or None (placeholders such as N, FILE, <m> pass)."""
    if PLACEHOLDER.fullmatch(value):
        return None
    kind = _number_kind(param)
    if kind == "int" and not re.fullmatch(r"-?\d+", value) or kind == "float" and not NUMBER.fullmatch(value):
        return f"{option} takes {'an integer' if kind == 'int' else 'a number'}, not {value!r}"
    check = CHOICES.get((path, param.opts[0]))
    if check is not None and not check(value):
        return f"{option} {value!r} is not a valid value" + (
            f" ({' | '.join(check.listed)})" if getattr(check, "listed", None) else "")
    return None


def problems(words: tuple[str, ...] | list[str], tree: Any = None) -> list[str]:
    """What is wrong with `dt WORDS` for the current CLI (empty when valid). `...` stands for elided words; an option
    that ends the line may go without its value (a mention such as `dt run --crop-grid`); `a|b` values are
    alternatives, each checked."""
    if words[:1] == ("<unparsable>",) or list(words[:1]) == ["<unparsable>"]:
        return [f"not a shell line: {words[1]} ({words[2]})"]
    cmd = tree if tree is not None else command_tree()
    path: list[str] = []
    words = list(words)
    while hasattr(cmd, "commands") and words:
        word = words[0]
        if word in ("-h", "--help", "--version"):
            return []
        sub = cmd.commands.get(word)
        if sub is None:
            close = difflib.get_close_matches(word, list(cmd.commands), 1)
            return [f"{' '.join(['dt', *path])} has no command {word!r}"
                    + (f" (did you mean {close[0]!r}?)" if close else "")]
        cmd, path, words = sub, path + [word], words[1:]
    if hasattr(cmd, "commands"):
        return []   # `dt` or `dt data` named on its own
    where = " ".join(path)
    options = {name: p for p in cmd.params if getattr(p, "param_type_name", "") == "option"
               for name in (*p.opts, *p.secondary_opts)}
    flags = {"-h", "--help"} | {n for n, p in options.items() if getattr(p, "is_flag", False)}
    found: list[str] = []
    positional, elided, i = 0, False, 0
    while i < len(words):
        word, i = words[i], i + 1
        if word == "...":
            elided = True
            continue
        if not word.startswith("-") or word == "-" or NUMBER.fullmatch(word):
            positional += 1
            continue
        option, eq, value = word.partition("=")
        if option not in options and option not in flags:
            close = difflib.get_close_matches(option, list(options), 1)
            found.append(f"dt {where} has no option {option}" + (f" (did you mean {close[0]}?)" if close else ""))
            if not eq and i < len(words) and not words[i].startswith("-"):
                i += 1   # its value, presumably: one mistake, one problem
            continue
        if option in flags:
            if eq:
                found.append(f"dt {where}: {option} is a switch and takes no value (given {value!r})")
            continue
        if not eq:
            if i == len(words):
                continue    # a mention of the option at the end of the line
            value, i = words[i], i + 1
            if value.startswith("-") and value != "-" and not NUMBER.fullmatch(value):
                found.append(f"dt {where}: {option} needs a value, but is followed by {value}")
                i -= 1
                continue
        for alternative in value.split("|"):
            problem = _value_problem(where, option, options[option], alternative)
            if problem:
                found.append(f"dt {where}: {problem}")
    arguments = [p for p in cmd.params if getattr(p, "param_type_name", "") == "argument"]
    room = float("inf") if any(p.nargs < 0 for p in arguments) else sum(p.nargs for p in arguments)
    if positional > room and not elided:
        found.append(f"dt {where} takes {room} argument(s), the line has {positional}")
    return found


def all_doc_commands(root: Path = ROOT) -> list[DocCommand]:
    """The `dt` lines of every file in DOC_FILES."""
    return [c for name in DOC_FILES for c in doc_commands((root / name).read_text(encoding="utf-8"), name)]
