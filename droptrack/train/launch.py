"""`dt train --nproc N`: torchrun, whose failure report (a Python traceback and a summary table) is left out: each
failing rank has already printed its own one-line `error: ...`, and the exit code is that rank's."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys


def exit_code(code: int) -> int:
    """A rank's exit code as a shell reports it (killed by signal S -> 128 + S)."""
    return 128 - code if code < 0 else code


def launch(nproc: int, args: list[str]) -> int:
    """Run `python -m droptrack.train ARGS` in `nproc` processes; the exit code of the first rank that failed."""
    logging.disable(logging.ERROR)   # this launcher's torchrun log lines ("failed (exitcode: 2)"); not the ranks'
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    try:
        run(parse_args(["--standalone", f"--nproc_per_node={nproc}", "-m", "droptrack.train", *args]))
    except ChildFailedError as exc:
        return exit_code(exc.get_first_failure()[1].exitcode)
    except (SignalException, KeyboardInterrupt) as exc:   # torchrun has stopped the ranks (they say so)
        return 128 + int(getattr(exc, "sigval", signal.SIGINT))
    return 0


def run_launcher(nproc: int, args: list[str]) -> int:
    """`launch` in a child process; Ctrl-C or SIGTERM here is passed on to it and waited for, so torchrun stops
    its ranks (killing it outright left them running, holding the GPUs)."""
    proc = subprocess.Popen([sys.executable, "-m", "droptrack.train.launch", str(nproc), *args],
                            start_new_session=True)   # a terminal's Ctrl-C reaches it once, through here
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                proc.send_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(launch(int(sys.argv[1]), sys.argv[2:]))
