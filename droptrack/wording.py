"""Counts in messages: '1 sequence', '2 sequences', so no line reads '1 frames'."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'n noun' with the noun singular for exactly 1 (and plural, `noun + 's'` unless given, otherwise)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def noun(n: int, word: str, plural: str | None = None) -> str:
    """The noun alone, singular for exactly 1, for a count written apart from it (e.g. '1/1 sequence')."""
    return word if n == 1 else plural or word + "s"
