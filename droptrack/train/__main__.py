"""`torchrun --nproc_per_node N -m droptrack.train [dt train options]`: the same options as `dt train`."""

import sys

if __name__ == "__main__":
    try:
        from droptrack.cli import app
    except KeyboardInterrupt:   # stopped while still importing (dt train --nproc passes SIGINT on): no traceback
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    app(["train", *sys.argv[1:]], prog_name="dt")   # usage errors name `dt train --help`, a command that exists
