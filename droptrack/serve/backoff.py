"""A per-client back-off after wrong tokens, so that a --token cannot be guessed at the speed of the network.

Each server keeps its own `Backoff` (the access guard holds it): no state at module level. The first FREE wrong
tokens of a client cost nothing (a page left open across a restart sends a few); every later one makes that client
wait, 1 s doubling up to a minute, and while it waits every request of it is answered 429 unchecked (a right guess
would otherwise still be told apart from a wrong one). A client is forgotten FORGET_S after its last wrong token.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from typing import Callable

FREE = 10            # wrong tokens a client may send before it has to wait
FIRST_S = 1.0        # the first wait; each further wrong token doubles it
MOST_S = 60.0        # the longest wait
FORGET_S = 600.0     # a client's count is dropped this long after its last wrong token
CLIENTS = 4096       # clients remembered at most (the oldest go first): memory stays bounded


def client_key(scope) -> str:
    """Who a request comes from: its address (X-Forwarded-For's, from a --trusted-proxy only), an IPv6 one by its
    /64 network (one machine or home gets a whole /64, so counting single addresses would count nothing)."""
    host = (scope.get("client") or ("", 0))[0] or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host   # a Unix socket, a test client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Backoff:
    """Wrong tokens counted per client; `wait_s` says how long a client must still wait before it is answered."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, free: int = FREE):
        self.clock, self.free = clock, free
        self._clients: OrderedDict[str, tuple[int, float, float]] = OrderedDict()   # key -> (wrong, last, until)

    def wait_s(self, key: str) -> float:
        """Seconds until `key` is answered again (0: now)."""
        entry = self._clients.get(key)
        if entry is None:
            return 0.0
        now = self.clock()
        if now - entry[1] > FORGET_S:
            del self._clients[key]
            return 0.0
        return max(0.0, entry[2] - now)

    def failed(self, key: str) -> float:
        """Count a wrong token of `key`; returns the seconds it must now wait (0 within its free tries)."""
        now = self.clock()
        wrong, last, _ = self._clients.pop(key, (0, now, now))
        wrong = 1 if now - last > FORGET_S else wrong + 1
        wait = 0.0 if wrong <= self.free else min(MOST_S, FIRST_S * 2 ** (wrong - self.free - 1))
        self._clients[key] = (wrong, now, now + wait)
        while len(self._clients) > CLIENTS:
            self._clients.popitem(last=False)
        return wait


def retry_after(seconds: float) -> str:
    """A Retry-After value: whole seconds, rounded up (at least 1)."""
    return str(max(1, math.ceil(seconds)))
