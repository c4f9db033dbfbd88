"""The `dt` Typer app and the error wrapper every command shares."""

from __future__ import annotations

import contextlib
import errno
import functools
import inspect
import os
import stat
import sys
import warnings
from typing import Any, Callable, Iterator

import typer
from typer.core import TyperGroup

try:   # typer >= 0.2x carries its own copy of Click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:   # older typer runs on Click itself
    from click.exceptions import ClickException, UsageError

from droptrack.errors import (CornerBoxFileWarning, DropTrackError, EdgeBoxWarning, ExtraImagesWarning,
                              FlatTargetWarning, OffTargetGraphWarning, PartialDatasetWarning, ExtensionSettingsWarning,
                              detach_stdout, disk_full, file_where_a_folder_goes, folder_where_a_file_goes,
                              full_message, full_stdout, one_line, printable, say_error, stdout_full_message)
from droptrack.cli.arg_text import check_utf8_args
from droptrack.cli.other_options import other_commands_option
from droptrack.cli.stdout_room import stdout_full_line, whole_stdout_writes
from droptrack.signals import command_signals, held_for, keep_interrupts_from_callbacks
from droptrack.videofiles import one_line_warning


class StdoutClosed(Exception):
    """The reader of stdout closed the pipe (`dt --help | head -1`) while dt wrote to it."""


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll reports an error on the writing end)."""
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)   # POLLERR is reported whatever is asked for
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):   # no poll (Windows), no descriptor (a test runner's stdout)
        return False


def _stdout_stat() -> os.stat_result | None:
    try:
        return os.fstat(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return None


@contextlib.contextmanager
def closed_stdout_stops() -> Iterator[None]:
    """A write to a stdout whose reader went away raises StdoutClosed (Click made it a silent exit 1, and so does
    rich, which prints the help: it points stdout at /dev/null and exits 1); any other broken pipe stays as it is."""
    before = _stdout_stat()
    try:
        yield
    except BrokenPipeError:
        if not stdout_reader_gone():
            raise
        raise StdoutClosed from None
    except SystemExit as exc:
        now, null = _stdout_stat(), os.stat(os.devnull)
        piped = before is not None and (stat.S_ISFIFO(before.st_mode) or stat.S_ISSOCK(before.st_mode))
        if exc.code == 1 and piped and now is not None and os.path.samestat(now, null):   # rich's on_broken_pipe
            raise StdoutClosed from None
        raise


def expanded_pattern(exc: Any) -> str | None:
    """The error for `dt run frames/*.jpg` (the shell expanded the pattern into a SOURCE and one extra argument per
    frame: listing them all made a line of thousands of names), or None for any other usage error."""
    from pathlib import Path

    from droptrack.imagefiles import is_image_file

    source = (getattr(exc.ctx, "params", None) or {}).get("source")
    if not source or "unexpected extra argument" not in exc.format_message() or not is_image_file(Path(source)):
        return None
    folder, suffix = Path(source).parent, Path(source).suffix
    return (f"SOURCE is one image folder or video, but several image files were given (a shell pattern such as "
            f"{folder / '*'}{suffix} expands to one name per file); pass the folder of frames: '{folder}'")


# commands that resume when the same command runs again: `--resume` (dt run's, dt bench's, dt train's) is not theirs
RESUMED_BY_RERUN = {"dt eval": "finished sequences are kept", "dt data synth": "finished sequences are kept",
                    "dt demo": "its synthetic data is kept"}


def close_options(exc: Any) -> None:
    """A mistyped option's suggestions matched by name, not by the '--' every option shares: Click's 'Possible
    options' for `dt eval --start` were --dataset and --root (and --output for --cpu); now none, while --datset
    still gets --dataset."""
    import difflib

    if type(exc).__name__ != "NoSuchOption" or exc.ctx is None or not exc.option_name.startswith("--"):
        return
    opts = {o[2:]: o for p in exc.ctx.command.params for o in [*p.opts, *p.secondary_opts] if o.startswith("--")}
    exc.possibilities = [opts[m] for m in difflib.get_close_matches(exc.option_name[2:], list(opts))]


def resumed_by_rerun(exc: Any, where: str) -> str | None:
    """The error for `--resume` given to a command that resumes by itself (dt eval, dt data synth, dt demo), or None:
    Click said only 'No such option' (with 'Possible options: --frames'), not how to continue."""
    kept = RESUMED_BY_RERUN.get(where)   # by the option's name: Click 8.2+ words it "No such option '--resume'"
    if kept is None or type(exc).__name__ != "NoSuchOption" or exc.option_name != "--resume":
        return None
    return f"no --resume option: it resumes when the same command runs again without it ({kept})"


def empty_argument(args: list[str], flags: frozenset[str] = frozenset()) -> str | None:
    """Why an empty argument is refused, or None: '' (an unset shell variable, `dt run "$VIDEO"`) reached every path
    as '.', so dt tracked, benched or wrote into the current folder instead of saying a value was missing. `flags`:
    the command's options that take no value (after `--fp16`, '' is an argument, not that option's value)."""
    def takes_value(token: str) -> bool:
        return token.startswith("-") and token != "-" and "=" not in token and token not in flags

    for i, token in enumerate(args):
        option, eq, value = token.partition("=") if token.startswith("--") else ("", "", token)
        if value.strip() or (token.startswith("-") and not eq):
            continue
        option = option or (args[i - 1] if i and takes_value(args[i - 1]) else "")
        if option:
            return (f"{option} is given an empty value (an unset shell variable?); pass its value, or leave "
                    f"{option} out")
        return f"argument {i + 1} is empty (an unset shell variable?); pass its value"
    return None


SWITCH_WORDS = frozenset({"true", "false", "yes", "no", "on", "off"})


def switch_given_value(args: list[str], flags: frozenset[str]) -> str | None:
    """Why `--fp16 true` is refused, or None: a switch takes no value, so 'true' became the next argument (`dt export
    --fp16 true`: "checkpoint 'true' not found"; `dt run v.mp4 --show true`: 'unexpected extra argument')."""
    for flag, value in zip(args, args[1:]):
        if (flag in flags and flag not in ("-h", "--help") and value.strip().lower() in SWITCH_WORDS
                and not os.path.lexists(value)):   # a file named 'on' is an argument
            return f"{flag} takes no value: give it alone to turn it on, leave it out for off; drop '{value}'"
    return None


def spaced_box(args: list[str]) -> str | None:
    """Why `--init 300 18 265 182` (or `--init 300, 18, 265, 182`) is refused, or None: the shell split the box into
    four arguments, so dt run said 'unexpected extra argument(s) (18 265 182)' and dt bench took 18, 265 and 182 for
    artifacts ("model '18' not found")."""
    import re

    number = re.compile(r"[-+]?(\d+\.?\d*|\.\d+),?$")
    for i, token in enumerate(args):
        if token != "--init":
            continue
        parts = []
        for part in args[i + 1:i + 5]:
            if not number.match(part.strip()):
                break
            parts.append(part.strip().rstrip(","))
        if len(parts) == 4:
            joined = ",".join(parts)
            return (f"--init takes the box as one argument, its four numbers joined by commas without spaces: "
                    f"--init {joined}")
    return None


def home_expanded(args: list[str]) -> list[str]:
    """The arguments with a leading '~' ('~', '~/...', or an option's '=~/...') as the home folder, as a shell
    expands it unquoted: quoted, inputs were read from the home folder but outputs went into a folder named '~' in
    the current one (`dt run '~/v.mp4' -o '~/b.txt'` wrote ./~/b.txt, and dt eval's next hint read that one)."""
    def home(value: str) -> str:
        return os.path.expanduser(value) if value == "~" or value.startswith("~/") else value

    expanded = []
    for token in args:
        option, eq, value = token.partition("=") if token.startswith("--") else ("", "", token)
        expanded.append(option + eq + home(value) if eq else home(token))
    return expanded


def reflowed(text: str | None) -> str | None:
    """A docstring with each prose paragraph on one line, so that the help wraps it at the terminal's width (rich
    keeps single line breaks: a paragraph broke at its source lines too, mid-sentence); a paragraph of examples
    (`Examples:` and its command lines) keeps its lines, indented under it in every command's help (typer dedents
    the text after the first line as one docstring, which took the indent off when the examples came right after
    it: a blank line before them keeps 'Examples:' from being that docstring's first line)."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    flowed = [p if p.startswith("Examples:") else " ".join(ln.strip() for ln in p.splitlines()) for p in paragraphs]
    if len(flowed) > 1 and flowed[1].startswith("Examples:"):
        flowed[1] = "\n" + flowed[1]
    return "\n\n".join(flowed)


class OneLineUsageErrors(TyperGroup):
    """`dt`'s command group: a mistyped option or command, a missing or invalid value is one 'error: ...' line that
    names the fix (exit 2), like every other bad input, instead of Click's usage box. Help, version or any output
    whose reader closes the pipe (`dt --help | head -1`) ends quietly with exit 141 (128 + SIGPIPE, what a shell
    reports for a tool a pipe stopped, as `dt run --jsonl - | head` does)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The group, with every command's help prose reflowed (`reflowed`)."""
        super().__init__(*args, **kwargs)
        names = (self.context_settings or {}).get("help_option_names", ["--help"])
        todo, seen = list(self.commands.values()), [self]
        while todo:
            cmd = todo.pop()
            cmd.help = reflowed(cmd.help)
            seen.append(cmd)
            todo.extend(getattr(cmd, "commands", {}).values())   # `dt data synth`
        for cmd in seen:   # a switch shows no type: typer's '<bool>' read as a value to give (`--fp16 true`)
            helper = cmd.get_help_option(typer.Context(cmd, help_option_names=names))
            for param in [*cmd.params, *([helper] if helper is not None else [])]:
                if getattr(param, "is_flag", False) and param.metavar is None:
                    param.metavar = ""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with closed_stdout_stops():   # `dt --help`, `dt --version`: written while the options are parsed
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with closed_stdout_stops():   # `dt run --help`, `dt version`, a command's own output
            return super().invoke(ctx)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        raw = sys.argv[1:] if args is None else list(args)
        given = home_expanded(raw)
        empty = (empty_argument(given, self._flags(args)) or switch_given_value(given, self._flags(args))
                 or spaced_box(given))
        if empty is not None:
            typer.echo(one_line(f"{self._path(args, prog_name)}: {empty}"), err=True)
            sys.exit(2)
        keep_interrupts_from_callbacks()   # the console script's entry: as `python -m droptrack`'s
        try:   # long commands (HELD_FOR) take SIGINT / SIGTERM even when ignored: held from here for their handlers
            with command_signals(held_for(self._command(args)[0]), args is None), whole_stdout_writes():
                rv = super().main(args if given == raw else given, prog_name, complete_var, standalone_mode=False,
                                  **extra)   # unchanged: as given (Click expands Windows' wildcards only then)
                sys.stdout.flush()   # here, not in the interpreter's exit, where a full disk is 'Exception ignored'
        except UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":   # bare `dt` / `dt data`: the help was printed
                sys.exit(exc.exit_code)
            where = exc.ctx.command_path if exc.ctx is not None else self._path(args, prog_name)
            close_options(exc)
            message = (expanded_pattern(exc) or resumed_by_rerun(exc, where) or other_commands_option(exc, where)
                       or exc.format_message().strip().removesuffix("."))
            typer.echo(one_line(f"{where}: {message} (see '{where} --help')"), err=True)
            sys.exit(exc.exit_code)
        except ClickException as exc:   # e.g. a file option that cannot be opened
            typer.echo(one_line(exc.format_message()), err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:                   # Ctrl-C or end of input at a prompt
            typer.echo("aborted", err=True)
            sys.exit(1)
        except OSError as exc:   # `dt version > f`, `dt --help > f` (not in a command's `friendly`) past ulimit -f
            if (line := stdout_full_line(exc)) is None:
                raise
            typer.echo(one_line(line), err=True)
            detach_stdout()   # what stdout's buffer kept would fail again in the exit's flush (exit 120)
            sys.exit(2)
        except StdoutClosed:
            import signal

            detach_stdout()
            sys.exit(128 + getattr(signal, "SIGPIPE", 13))
        sys.exit(rv if isinstance(rv, int) else 0)   # non-standalone returns an explicit Exit's code

    def _command(self, args: Any) -> tuple[list[str], Any]:
        """The command names that `args` start with and the (sub)command they lead to (`dt data synth`: synth)."""
        words, group = [], self
        for token in (sys.argv[1:] if args is None else list(args)):
            cmd = group.commands.get(token) if hasattr(group, "commands") else None
            if cmd is None:
                break
            words.append(token)
            group = cmd
        return words, group

    def _path(self, args: Any, prog_name: str | None) -> str:
        """'dt run' for `dt run camera0 --threads` (an error the parser raises without naming its command)."""
        return " ".join([prog_name or "dt", *self._command(args)[0]])

    def _flags(self, args: Any) -> frozenset[str]:
        """The names of the options that take no value (--fp16, --help) of the command `args` name."""
        params = [*self._command(args)[1].params, *self.params]
        return frozenset(["-h", "--help"]) | frozenset(
            name for p in params if getattr(p, "is_flag", False) or getattr(p, "count", False)
            for name in (*p.opts, *p.secondary_opts))


app = typer.Typer(cls=OneLineUsageErrors, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},   # every command: -h as well
                  help="DropTrack / OSTrack: train, export, run, evaluate and benchmark single-object trackers.")


def _print_version(value: bool) -> None:
    if value:
        from droptrack import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="Print the droptrack version and exit.")) -> None:
    """DropTrack / OSTrack: train, export, run, evaluate and benchmark single-object trackers."""
data_app = typer.Typer(no_args_is_help=True, help="Datasets: synthetic benchmark generation; box files of corners "
                       "as x,y,w,h.")
app.add_typer(data_app, name="data")
# shared by dt run, serve, eval and bench (here: importing a command module would reorder the help)
CONFIG_OPTION = typer.Option(None, "--config", help="Config name or YAML of a checkpoint: official ones' is "
                             "inferred when omitted; a .safetensors file (weights only) of another model needs it.")
# every command that reads a checkpoint (dt train's, for its --pretrained file, says so in its own words)
TRUST_OPTION = typer.Option(False, "--trust-checkpoint", help="Read a legacy pickle checkpoint's non-tensor objects "
                            "as plain data records (nothing in the file is run).")


def _one_line_warning(show: Any, message: Any, category: type, *rest: Any) -> None:
    """dt's warnings as one 'warning: ...' line on stderr (`one_line_warning`), those of droptrack.errors included."""
    if issubclass(category, (FlatTargetWarning, OffTargetGraphWarning, PartialDatasetWarning, ExtensionSettingsWarning,
                             CornerBoxFileWarning, ExtraImagesWarning, EdgeBoxWarning)):
        typer.echo(f"warning: {printable(message)}", err=True)
    else:
        one_line_warning(show, message, category, *rest)


def friendly(fn: Callable) -> Callable:
    """Turn DropTrackError (and PermissionError) into a one-line message and its exit code (no traceback for user
    errors); FFmpeg quiet."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # FFmpeg's own log lines; our errors say what failed
        try:
            with warnings.catch_warnings():   # ours as one 'warning: ...' line, not Python's file:line format
                warnings.showwarning = functools.partial(_one_line_warning, warnings.showwarning)
                check_utf8_args(kwargs)   # a latin-1 file name: refused before any work (it crashed at its end)
                return fn(*args, **kwargs)
        except DropTrackError as exc:
            say_error(one_line(exc))
            raise typer.Exit(exc.exit_code) from None
        except IsADirectoryError as exc:   # a folder where an output file goes (OUTPUT/model.onnx/, boxes.txt.part/)
            # os.replace names the temporary file first
            say_error(one_line(folder_where_a_file_goes(exc.filename2 or exc.filename)))
            raise typer.Exit(2) from None
        except NotADirectoryError as exc:   # a file where dt makes a folder (OUT/default/got10k_submit)
            from droptrack.paths import nearest_existing

            where = exc.filename2 or exc.filename
            say_error(one_line(file_where_a_folder_goes(nearest_existing(where) if where else where)))
            raise typer.Exit(2) from None
        except OSError as exc:
            if isinstance(exc, PermissionError):
                named = exc.filename2 or exc.filename   # os.replace names the temporary file first
                where = f" '{named}'" if named else ""
                msg = (f"cannot access{where} ({exc.strerror or exc}): a folder above it is closed to this user, "
                       "or the file is another user's; fix the permissions or pass a path you can read and write")
                if exc.errno == errno.EPERM:   # EACCES: the permission bits; EPERM: locked (chattr +i, read-only)
                    msg = (f"cannot change{where} (Operation not permitted): it or its folder is locked against "
                           "changes (chattr +i, a read-only mount); unlock it or pass another path")
            elif disk_full(exc) and not exc.filename and (log := full_stdout()) is not None:   # a print, not a file
                msg = stdout_full_message(exc, log)
                detach_stdout()   # what stdout's buffer kept would fail again in the exit's flush (exit 120)
            elif disk_full(exc):   # outputs are written atomically or streamed: what is complete stays valid
                msg = full_message(exc)
            elif exc.errno == errno.ENAMETOOLONG:   # a name in a given path (a folder's too), found by any check
                from droptrack.paths import temp_target

                named = exc.filename2 or exc.filename
                msg = (f"'{named}' holds a file or folder name longer than this file system allows (File name "
                       "too long); pass a path with shorter names")
                if (final := temp_target(named)) is not None:   # dt's own .NAME.<random>.tmp, 14 bytes longer
                    msg = (f"'{final}' is written first as '.{final.name}.XXXXXXXX.tmp', a name longer than this file "
                           "system allows (File name too long); pass shorter names (the sequence's, the output's)")
            else:
                raise
            say_error(one_line(msg))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            if not os.environ.get("DROPTRACK_NPROC_LAUNCHER"):   # a dt train --nproc rank: its launcher says it
                typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


@app.command()
def version() -> None:
    """Print the droptrack version."""
    from droptrack import __version__

    typer.echo(__version__)
