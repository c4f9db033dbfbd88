"""Options given to a command that does not have them but another dt command does (`dt bench --realtime-fps 30`,
`dt eval --start 5`): Click said only 'No such option', not where the option is."""

from __future__ import annotations

from typing import Any, Iterator


def _leaves(group: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(command path, command) of every command under a Click group, `dt data synth` included."""
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        if getattr(cmd, "hidden", False):
            continue
        if hasattr(cmd, "commands"):
            yield from _leaves(cmd, f"{path} {name}")
        else:
            yield f"{path} {name}", cmd


def other_commands_option(exc: Any, where: str) -> str | None:
    """Click's 'No such option' message with the commands that do take that option named, or None where no other
    command has it (a typo keeps Click's own 'Possible options')."""
    if type(exc).__name__ != "NoSuchOption" or exc.ctx is None or not exc.option_name.startswith("--"):
        return None
    root = exc.ctx.find_root()
    owners = [path for path, cmd in _leaves(root.command, root.info_name or "dt") if path != where
              and any(exc.option_name in (*p.opts, *p.secondary_opts) for p in cmd.params)]
    if not owners:
        return None
    return (f"{exc.format_message().strip().removesuffix('.')}; {', '.join(owners)} "
            f"{'takes' if len(owners) == 1 else 'take'} it, {where} does not")
