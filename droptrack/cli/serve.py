"""`dt serve`: watch and steer a tracker from a browser (optional extra [web])."""

from __future__ import annotations

from typing import Optional

import typer

from droptrack.cli.app import TRUST_OPTION, app, friendly
from droptrack.cli.ext_options import extension_options
from droptrack.errors import one_line, printable
from droptrack.wording import counted
from droptrack.cli.track import (CONFIG_OPTION, LOST_THRESHOLD_OPTION, MODEL_OPTION, RECONNECT_OPTION,
                                 RECONNECT_TIMEOUT_OPTION, SOURCE_ARG, stopped)


@app.command()
@friendly
@extension_options
def serve(
    source: str = SOURCE_ARG,
    checkpoint: Optional[str] = MODEL_OPTION,
    config: Optional[str] = CONFIG_OPTION,
    trust_checkpoint: bool = TRUST_OPTION,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback needs --token."),
    port: int = typer.Option(8080, "--port", help="TCP port (0 picks a free one; the URL is printed)."),
    token: Optional[str] = typer.Option(None, "--token", help="Secret every request must carry (header "
                                        "Authorization: Bearer; the page takes it once as ?token= and sets a "
                                        "cookie); 'auto' generates and prints one."),
    allow_origin: Optional[list[str]] = typer.Option(
        None, "--allow-origin", metavar="URL", help="Also accept the page's WebSockets and POST/PUT/DELETE from this "
        "origin (scheme://host[:port], e.g. https://tracker.example.org): the address of a reverse proxy; on a "
        "loopback bind its host name is answered too (a proxy that passes the public Host on); repeatable. "
        "Default: the page's own origin and loopback names only."),
    allow_frame_ancestors: Optional[list[str]] = typer.Option(
        None, "--allow-frame-ancestors", metavar="URL", help="Let pages of this origin embed the page in a frame "
        "(scheme://host[:port] of a dashboard, e.g. https://grafana.example.org); repeatable. Default: no site "
        "may frame it. With --token the dashboard must be on the same site (the page's cookie is SameSite=Strict)."),
    trusted_proxy: Optional[list[str]] = typer.Option(
        None, "--trusted-proxy", metavar="ADDRESS", help="Believe X-Forwarded-For (the client's address) and "
        "X-Forwarded-Proto (https) from this address or network (CIDR) only: the reverse proxy's, as it connects "
        "to dt serve, e.g. 127.0.0.1; repeatable. Default: no one's (any local process could claim another "
        "client's address)."),
    max_targets: int = typer.Option(4, "--max-targets", help="Most targets tracked at once."),
    save: Optional[str] = typer.Option(None, "--save", help="Annotated video; its extension picks the container: "
                                       ".mp4, .m4v, .mov (mp4v) or .avi, .mkv (MJPG)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Official box files, one per target, "
                                         "_<id> before the extension (the first target: boxes.txt -> boxes_0.txt; "
                                         "boxes -> boxes_0), from the frame the target was drawn on."),
    jsonl: Optional[str] = typer.Option(None, "--jsonl", help="One JSON line per frame, as dt run writes, plus "
                                        "target ids (file, or - for stdout; a reader that closes the pipe, e.g. "
                                        "| head, stops dt serve as it stops dt run: exit 141)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --output (NAME_<id>.txt) / --jsonl / --save "
                                   "files that already hold data, and a killed run's NAME.part (default: refused "
                                   "before serving, as dt run)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda | cuda:N (default: cuda when available)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch / ONNX Runtime / "
                                          "OpenCV (default as dt run: OMP_NUM_THREADS if set, else 1 for small "
                                          "models, else the usable cores)."),
    lost_threshold: float = LOST_THRESHOLD_OPTION,
    pre: str = typer.Option("auto", "--pre", help="Pre/post-processing: host, device or auto (as dt run)."),
    pace: Optional[bool] = typer.Option(None, "--pace/--no-pace", help="Play files and folders at their frame "
                                        "rate (default) or as fast as the tracker runs."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="Stop tracking after N frames (the "
                                             "page stays up)."),
    connect_timeout: float = typer.Option(30.0, "--connect-timeout", help="Seconds the source may take to "
                                          "deliver its first frame."),
    reconnect: int = RECONNECT_OPTION,
    reconnect_timeout: Optional[float] = RECONNECT_TIMEOUT_OPTION,
    every_frame: bool = typer.Option(False, "--every-frame", help="Cameras, pipelines, streams: every frame in "
                                     "arrival order (queued) instead of the newest one (as dt run; refused for video "
                                     "files and image folders)."),
    width: Optional[int] = typer.Option(None, help="Camera capture width (video files, streams, folders and "
                                        "pipelines keep their own size: refused there)."),
    height: Optional[int] = typer.Option(None, help="Camera capture height (as --width)."),
    fps: Optional[float] = typer.Option(None, help="Camera capture rate; image folders: their timestamp rate "
                                        "(video files, streams and pipelines keep their own: refused there)."),
    ext: Optional[dict] = None,   # the extension options' TEST keys (extension_options)
) -> None:
    """Serve a page with the live tracked stream: draw boxes to start targets, read live stats, JSON API.

    Ctrl-C, SIGTERM and SIGHUP shut the server down cleanly (every output closed and renamed from NAME.part);
    Ctrl-C and SIGHUP exit 130 / 129 as dt run, SIGTERM (systemd, docker stop) 0, the clean stop of a service.
    After a full disk stopped tracking (its one line logged then) any stop exits 2, as dt run after a full disk.

    Slow or idle clients cannot hold the server: a request's headers, and its body, must each arrive within 10 s
    (else 408 and the connection closes); at most 100 connections are open at once, 32 live views and record
    streams (WebSockets), 8 of them from one address (more get 503).

    Examples:
      dt serve camera0
      dt serve rtsp://camera/stream -m model.onnx --host 0.0.0.0 --token auto -o boxes.txt
    """
    import signal

    from droptrack.serve.stops import StopSignals
    from droptrack.signals import Stopped

    try:
        with StopSignals() as stop:   # first, before the model loads: from here on a stop signal stops dt serve
            session = _serve(stop, threads, dict(
                source=source, artifact=checkpoint, config=config, device=device, pre=pre, save=save, output=output,
                jsonl=jsonl, lost_threshold=lost_threshold, max_targets=max_targets, max_frames=max_frames, pace=pace,
                connect_timeout=connect_timeout, width=width, height=height, fps=fps, every_frame=every_frame, ext=ext,
                reconnect=reconnect, reconnect_timeout=reconnect_timeout, overwrite=overwrite,
                trust_checkpoint=trust_checkpoint), dict(
                host=host, port=port, token=token, allow_origins=allow_origin or (),
                allow_frame_ancestors=allow_frame_ancestors or (), trusted_proxy=trusted_proxy or ()))
            _report(session, output, jsonl)
    except Stopped as exc:   # SIGTERM / SIGHUP before the server ran (a Ctrl-C there: 'interrupted', exit 130)
        if exc.signum == signal.SIGTERM:   # the clean stop of a service, as once it runs
            raise typer.Exit(0) from None
        stopped(exc.signum, "before the server ran")


def _serve(stop, threads: Optional[int], options: dict, server_options: dict):
    """Load the model, start tracking and serve until a stop (`serve.server.serve`); the stopped session."""
    import os
    import sys

    from droptrack.engine.threads import apply_threads, plan_threads
    from droptrack.runtime.build import needs_torch, resolve_device
    from droptrack.serve.options import ServeOptions, SourceTimeout
    from droptrack.serve.server import serve as run_server

    n_threads = plan_threads(threads, options["artifact"]).threads   # as dt run: 1 for small models, not oversubscribed
    device = resolve_device(options["device"], options["artifact"])   # an ONNX model on the CPU: torch is not loaded
    torch_too = needs_torch(options["artifact"], device, options["config"], options["pre"])
    apply_threads(n_threads, torch_too=torch_too)
    opts = ServeOptions(**{**options, "device": device}, threads=n_threads)   # the session tracks on that device
    err = options["jsonl"] == "-"
    try:
        return run_server(opts, **server_options, stop=stop,
                          echo=lambda s: typer.echo(printable(s), err=err),   # names the source:
                          warn=lambda s: typer.echo(printable(s), err=True))   # control characters escaped
    except SourceTimeout as exc:
        # the opener thread is blocked inside OpenCV/FFmpeg and cannot be stopped; leave without waiting for it
        typer.echo(one_line(exc), err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exc.exit_code)


def _report(session, output: Optional[str], jsonl: Optional[str]) -> None:
    """The outputs written, and the exit a stop asks for (a full disk 2, a closed --jsonl - 141, a signal)."""
    import signal

    boxes = (", ".join(session.box_files()) or "none written (no target was tracked on a frame)") if output else None
    outputs = (("boxes", boxes), ("jsonl", session.jsonl_file() if jsonl != "-" else None),
               ("video", session.video_file()))
    for label, path in outputs:
        if path:
            typer.echo(f"{label}: {printable(path)}", err=jsonl == "-")
    if session.output_full:   # outputs incomplete (its one line is in the log): exit 2, as dt run after a full disk
        from droptrack.errors import OutputFull

        raise typer.Exit(OutputFull.exit_code)
    if session.reader_gone:   # `| head` read enough: the server ended, as dt run does (exit 141)
        from droptrack.runtime.signals import SIGPIPE

        stopped(SIGPIPE, f"after {counted(session.frames_written, 'frame')}; outputs are complete up to there")
    if session.signal and session.signal != signal.SIGTERM:   # Ctrl-C, SIGHUP: exit 130 / 129 as dt run (not 0)
        kept = "; outputs are complete up to there" if output or jsonl or session.video_file() else ""   # any given
        stopped(session.signal, f"after {counted(session.frames_written, 'frame')}{kept}")
