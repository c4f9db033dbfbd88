"""`torchrun --nproc_per_node N -m droptrack.train [dt train options]`: the same options as `dt train`.

Under torchrun (more than one rank) a rank ends with os._exit once its lines are printed and flushed, whether it
failed or finished: interpreter shutdown frees its gloo process group (still held by the DDP model, and after a
failure by the error's traceback), and that teardown now and then aborted the process ('terminate called without
an active exception': exit 134, or SIGABRT under torchrun, instead of the run's own 0 or 2)."""

import os
import sys


def _end(code: object) -> None:
    """Exit with `code` (SystemExit's meaning) without interpreter shutdown: files are closed by then, output flushed."""
    sys.stdout.flush()
    sys.stderr.flush()
    if code is None:
        os._exit(0)
    if not isinstance(code, int):
        print(code, file=sys.stderr, flush=True)
        os._exit(1)
    os._exit(code)


if __name__ == "__main__":
    launched = bool(os.environ.get("DROPTRACK_NPROC_LAUNCHER"))   # by dt train --nproc: its launcher says a stop
    ranks = int(os.environ.get("WORLD_SIZE", "1"))
    try:
        import signal

        from droptrack.signals import keep_interrupts_from_callbacks

        keep_interrupts_from_callbacks()   # a stop during the imports below is not lost in an import-lock callback
        if launched and hasattr(signal, "pthread_sigmask"):   # started with the stop signals blocked (launch.py)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGINT, signal.SIGTERM))   # taken from here on
        from droptrack.cli import app

        app(["train", *sys.argv[1:]], prog_name="dt")   # usage errors name `dt train --help`, a command that exists
    except KeyboardInterrupt:   # stopped while importing, or before dt train's own handler runs: no traceback
        if not launched:
            print("interrupted", file=sys.stderr)
        _end(130) if ranks > 1 else sys.exit(130)
    except SystemExit as exc:
        if ranks > 1:
            _end(exc.code)
        raise
    if ranks > 1:
        _end(0)
