"""`torchrun --nproc_per_node N -m droptrack.train [dt train options]`: the same options as `dt train`.

A rank that failed (its one-line error already printed) ends with os._exit: interpreter shutdown would free its
gloo process group, still held by the model in the error's traceback, and that teardown now and then aborted the
process ('terminate called without an active exception', exit 134 instead of the error's 2)."""

import os
import sys

if __name__ == "__main__":
    try:
        from droptrack.cli import app
    except KeyboardInterrupt:   # stopped while still importing (dt train --nproc passes SIGINT on): no traceback
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    try:
        app(["train", *sys.argv[1:]], prog_name="dt")   # usage errors name `dt train --help`, a command that exists
    except SystemExit as exc:
        if isinstance(exc.code, int) and exc.code != 0 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.code)
        raise
