"""Reopening live sources (cameras, pipelines, streams) with exponential backoff after a drop.

A `ReconnectPolicy` bounds each outage by attempts (`--reconnect N`), by time (`--reconnect-timeout S`), or
both (whichever ends first). `open_with_retry` is used for the first open and after every drop; an opener is
any function returning an OpenCV-like capture (`isOpened()`, `read()`, `release()`), so tests inject fakes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from droptrack.errors import InputError, SourceError

Opener = Callable[[], Any]


@dataclass(frozen=True)
class ReconnectPolicy:
    """How long a live source is retried: attempts per outage (0 = no limit when a timeout is set)."""

    attempts: int = 0
    timeout_s: float | None = None
    backoff_s: float = 0.5          # first wait; doubles per failed attempt
    max_backoff_s: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 0:
            raise InputError(f"--reconnect {self.attempts} must be >= 0 (0 = off unless --reconnect-timeout)")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise InputError(f"--reconnect-timeout {self.timeout_s} must be a positive number of seconds")

    @property
    def enabled(self) -> bool:
        """Whether drops are retried at all."""
        return self.attempts > 0 or self.timeout_s is not None

    def wait_s(self, attempt: int) -> float:
        """Backoff before attempt number `attempt` (1-based; the first attempt waits `backoff_s`)."""
        return min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))

    def describe(self) -> str:
        """'5 attempts' / '10 s' / '5 attempts or 10 s' for error messages."""
        parts = ([f"{self.attempts} attempts"] if self.attempts else []) + \
                ([f"{self.timeout_s:g} s"] if self.timeout_s is not None else [])
        return " or ".join(parts) or "no retries"


@dataclass
class Outage:
    """A finished outage: seconds without frames (from the last good frame) and the reopen attempts it took."""

    gap_s: float
    attempts: int


def _usable(cap: Any) -> bool:
    try:
        return cap is not None and bool(cap.isOpened())
    except Exception:  # noqa: BLE001 - a half-dead capture counts as not opened
        return False


def open_with_retry(opener: Opener, policy: ReconnectPolicy, name: str, hint: str,
                    first_wait: bool = True, started: float | None = None, done: int = 0) -> tuple[Any, int]:
    """Call `opener` until it returns an opened capture; returns (capture, attempts so far in this outage).

    The first call waits a backoff when `first_wait` (after a drop the device needs a moment). `started` and
    `done` continue an outage whose reopened capture delivered nothing. Raises SourceError naming the source,
    the budget and `hint` when the policy runs out.
    """
    start = time.monotonic() if started is None else started
    attempt = done

    def exhausted() -> bool:
        if attempt > done and not policy.enabled:
            return True
        return bool(policy.attempts and attempt >= policy.attempts) or \
            (policy.timeout_s is not None and time.monotonic() - start >= policy.timeout_s)

    while not exhausted():
        attempt += 1
        if first_wait or attempt > done + 1:
            wait = policy.wait_s(attempt - done)
            if policy.timeout_s is not None:
                wait = min(wait, max(0.0, start + policy.timeout_s - time.monotonic()))
            time.sleep(wait)
        try:
            cap = opener()
        except SourceError:
            cap = None
        if _usable(cap):
            return cap, attempt
        if cap is not None:
            cap.release()
    raise SourceError(f"{name} could not be (re)opened within {policy.describe()} "
                      f"({attempt} attempt{'s' * (attempt != 1)}, {time.monotonic() - start:.1f} s); {hint}")
