"""`python -m droptrack` is `dt` (useful where the console script is not on PATH)."""

from droptrack.cli import app

app(prog_name="dt")   # its usage errors name `dt ...`, the command users know
