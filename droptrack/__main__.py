"""`python -m droptrack` is `dt` (the `dt` console script is droptrack.cli:app, the layout's entry point). Run
this way, the long commands (`signals.HELD_FOR`: dt run, serve, eval, train, ...) hold a stop signal inherited as
ignored from this module's first line; the console script holds it from the CLI's `main`, after its imports (typer,
rich, click: 0.1-0.3 s): a launcher that must lose no early Ctrl-C starts `python -m droptrack`, or blocks the
signal itself before its exec."""

import sys

from droptrack.signals import held_for, held_while_ignored, keep_interrupts_from_callbacks


def main() -> None:
    """Run `dt` with the arguments in sys.argv. The long commands (HELD_FOR): a stop signal inherited as ignored is
    held from here, before the CLI's imports (0.1-0.3 s), for the command's handlers to take
    (`signals.held_while_ignored`)."""
    # The earliest point droptrack's code runs: what comes before (the interpreter's start and `site`, 20-150 ms on
    # a loaded machine, most of it an editable install's import finder; this module's import of droptrack.signals,
    # a few ms) cannot hold a signal. Linux discards a signal whose action is SIG_IGN at the moment it is sent unless
    # the thread blocks it, and nothing of this process but the interpreter has run yet; only the parent can block
    # it before its exec (the mask is kept across exec), as a launcher that wants no Ctrl-C lost must. So a Ctrl-C
    # that early is lost (exit 0 once the run is done, or a server that keeps serving): stop it again.
    keep_interrupts_from_callbacks()   # a Ctrl-C that lands in an import-lock callback still stops, quietly
    try:
        with held_while_ignored(held_for(sys.argv[1:])):
            from droptrack.cli import app

            app(prog_name="dt")   # its usage errors name `dt ...`, the command users know
    finally:
        # CPython notes a KeyboardInterrupt that leaves code run by exec() or eval() of a string (namedtuple's and
        # dataclasses' generated code, run all through the imports) as unhandled even when it is caught further up,
        # and `python -m` then ends by SIGINT whatever the exit code: a Ctrl-C that came there ended `dt serve` with
        # 'interrupted' and status -2 instead of 130 (3 of 40 starts of a stress loop). An exec() of a string
        # clears the note; a KeyboardInterrupt that leaves main still ends the process by SIGINT, as it should.
        exec("")


if __name__ == "__main__":
    main()
