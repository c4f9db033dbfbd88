"""`torchrun --nproc_per_node N -m droptrack.train [dt train options]`: the same options as `dt train`."""

import sys

from droptrack.cli import app

if __name__ == "__main__":
    app(["train", *sys.argv[1:]], prog_name="droptrack.train")
