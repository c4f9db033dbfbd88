"""Run a command with a file-size limit or default signal handlers, set in a small process of its own that then
execs the command: the safe stand-in for subprocess's `preexec_fn`, which runs Python between fork and exec and can
deadlock when the test process has threads (a server's, a reader's).

Import `exec_with` to build the command line; the module runs as that small process (it imports nothing heavy)."""

from __future__ import annotations

import os
import resource
import signal
import sys

SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "HUP": signal.SIGHUP}


def exec_with(cmd: list[str], *, file_size: int | None = None, default_signals: tuple[str, ...] = (),
              ignored_signals: tuple[str, ...] = ()) -> list[str]:
    """`cmd` run through this module: no file it writes may grow past `file_size` bytes (a write beyond fails with
    EFBIG: SIGXFSZ is ignored, RLIMIT_FSIZE set), and the named signals ('INT', 'TERM', 'HUP') have their default action
    (a pytest started from a background job of a script inherits SIGINT ignored, one under nohup SIGHUP; the CLI takes it then, the Python
    API keeps it so), or, `ignored_signals`, are ignored (as such a job starts its commands)."""
    opts = ([f"--file-size={file_size}"] if file_size is not None else []) + [f"--default={s}" for s in default_signals]
    opts += [f"--ignore={s}" for s in ignored_signals]
    return [sys.executable, "-B", os.path.abspath(__file__), *opts, "--", *map(str, cmd)]


def main(argv: list[str]) -> None:
    """Set what the options say in this process, then replace it with the command after `--`."""
    split = argv.index("--")
    for opt in argv[:split]:
        name, _, value = opt.partition("=")
        if name == "--file-size":
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit then fails instead of killing
            resource.setrlimit(resource.RLIMIT_FSIZE, (int(value), int(value)))
        elif name == "--default":
            signal.signal(SIGNALS[value], signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {SIGNALS[value]})   # a blocked mask is inherited across exec too
        elif name == "--ignore":
            signal.signal(SIGNALS[value], signal.SIG_IGN)   # kept across exec
        else:
            raise SystemExit(f"exec_with: unknown option {opt}")
    cmd = argv[split + 1:]
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
