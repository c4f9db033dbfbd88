"""An option that takes one value given twice (`dt run v.mp4 -o a.txt -o b.txt`, `--threads 1 --threads 2`): Click
kept the last one without a word, so a user who repeated an output by mistake looked for results in the wrong file.
Refused before any work instead; the options meant to repeat (--init, --data, --precision, ...) stay repeatable."""

from __future__ import annotations

from typing import Any


def _options(command: Any) -> dict[str, Any]:
    """Every option name of `command` (long, short and --no- forms) to its parameter."""
    return {name: p for p in getattr(command, "params", []) if getattr(p, "param_type_name", "") == "option"
            for name in (*p.opts, *p.secondary_opts)}


def _takes_values(param: Any) -> int:
    """How many arguments `param` reads after its name: 0 for a switch or a count (`--fp16`, `-v`)."""
    return 0 if getattr(param, "is_flag", False) or getattr(param, "count", False) else max(param.nargs, 1)


def _given(args: list[str], options: dict[str, Any]) -> list[tuple[Any, str, str]]:
    """(parameter, name as written, value) for each value-taking option in `args`, read as Click's parser reads
    them: `--opt value`, `--opt=value`, `-o value`, `-ovalue`, switches bundled before a short option (`-xo v`),
    and nothing after `--`."""
    found, i = [], 0
    while i < len(args):
        token, i = args[i], i + 1
        if token == "--":
            break
        if not token.startswith("-") or token == "-":
            continue
        name, eq, value = token.partition("=")
        if name in options:   # Click matches the whole token (or the part before '=') first, short names too
            param = options[name]
            count = _takes_values(param)
            if count and not eq:
                value, i = " ".join(args[i:i + count]), i + count
            if count:
                found.append((param, name, value))
            continue
        if token.startswith("--"):
            continue   # an unknown option: Click's own error names it
        for k in range(1, len(token)):   # short switches bundled, the last may take the rest as its value
            param = options.get("-" + token[k])
            if param is None:
                break
            count = _takes_values(param)
            if count:
                rest = token[k + 1:]
                value = rest if rest else " ".join(args[i:i + count])
                i += 0 if rest else count
                found.append((param, "-" + token[k], value))
                break
    return found


def repeated_option(args: list[str], words: list[str], command: Any) -> str | None:
    """Why `args` are refused, or None: an option of `command` (the one `words`, the first arguments, name) that
    takes a single value is given more than once, and all but its last value would be dropped silently."""
    seen: dict[int, list[tuple[str, str]]] = {}   # by parameter: `-o a.txt --output b.txt` is one option twice
    for param, name, value in _given(args[len(words):], _options(command)):
        if not getattr(param, "multiple", False):
            seen.setdefault(id(param), []).append((name, value))
    for uses in seen.values():
        if len(uses) > 1:
            names = " / ".join(dict.fromkeys(name for name, _ in uses))
            values = ", ".join(f"'{value}'" for _, value in uses)
            times = "twice" if len(uses) == 2 else f"{len(uses)} times"
            return (f"{names} is given {times} ({values}) but takes one value: only the last would be used; "
                    f"give it once")
    return None
