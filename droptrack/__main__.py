"""`python -m droptrack` is `dt` (useful where the console script is not on PATH; the console script is
droptrack.cli:app, which holds an ignored stop signal for dt serve from after the CLI imports)."""

import sys

from droptrack.signals import held_while_ignored


def main() -> None:
    """Run `dt` with the arguments in sys.argv. `dt serve`: a stop signal inherited as ignored is held from here,
    before the CLI's imports (about 0.1 s), for dt serve's handlers to take (`signals.held_while_ignored`)."""
    try:
        with held_while_ignored(sys.argv[1:2] == ["serve"]):
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
