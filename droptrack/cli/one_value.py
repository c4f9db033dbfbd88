"""An option that takes one value, given twice (`dt run v.mp4 -o a.txt -o b.txt`, two pasted commands), is refused:
Click kept the last value and dropped the first without a word (only b.txt was written). Options that take a list
(`--init`, `--tracker`, `--data`) still repeat; a flag given twice (`--overwrite --overwrite`) or a value given twice
the same loses nothing and is taken; a switch given both ways (`--pace --no-pace`) is refused like a value."""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


def _listens(parser: Any, param: Any) -> bool:
    """Make `parser` keep every value of a one-value option or two-way switch (its occurrences as a list); whether
    `param` is one of them."""
    if getattr(param, "param_type_name", "") != "option" or param.multiple or param.count:
        return False
    if not param.is_flag:
        parser.add_option(obj=param, opts=param.opts, dest=param.name, action="append", nargs=param.nargs)
        return True
    if not param.secondary_opts:   # `--overwrite` twice: on either way
        return False
    for opts in (param.opts, param.secondary_opts):   # each occurrence as the name typed
        parser.add_option(obj=param, opts=opts, dest=param.name, action="append_const", const=opts[-1])
    return True


def _shown(value: Any) -> str:
    """A value as the error quotes it ('a.txt'; an option of several values: 'a b')."""
    return f"'{' '.join(map(str, value)) if isinstance(value, (tuple, list)) else value}'"


def given_twice(command: Any, ctx: Any, args: list[str]) -> str | None:
    """Why `args` (given to `command`, parsed in `ctx`) are refused, or None: the first one-value option given two
    different values, or a switch given both ways. None where the help or another eager option ends the command."""
    parser = command.make_parser(ctx)
    checked = {p for p in command.get_params(ctx) if _listens(parser, p)}
    opts, _, order = parser.parse_args(list(args))   # ctx parses resiliently: the real parse reports bad input
    if any(getattr(p, "is_eager", False) for p in order):   # `--help` / `--version` wins, as it does over bad values
        return None
    for param in dict.fromkeys(p for p in order if p in checked):
        values = opts.get(param.name) or []
        if len(set(map(_shown, values))) < 2:
            continue
        names = "/".join(sorted(param.opts, key=len) + param.secondary_opts)
        if param.is_flag:
            return f"{names} is given both ways ({_shown(values[0])}, then {_shown(values[-1])}); give one of them"
        times = "twice" if len(values) == 2 else f"{len(values)} times"
        shown = ", ".join(map(_shown, values[:-1])) + f", then {_shown(values[-1])}"
        return f"{names} is given {times} ({shown}); give it once"
    return None


class OneValueGroup(TyperGroup):
    """A `dt` command group whose commands refuse a one-value option given twice (`given_twice`), before they run."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and not ctx.resilient_parsing:
            settings = {**command.context_settings, "resilient_parsing": True}
            sub = command.context_class(command, info_name=name, parent=ctx, **settings)
            if (why := given_twice(command, sub, rest)) is not None:
                sub.fail(why)   # a UsageError of `dt <command>`: one line, exit 2
        return name, command, rest
