"""Process-wide admission queue for heavy work (parsing uploads), so concurrent users cannot exhaust memory.

Why: one server process serves a whole lab. Each parse briefly needs memory proportional to its table (bounded
per file by ``ProfileLimits``); admitting at most ``capacity`` units of parsing at once bounds the sum. Large
files take every unit (one at a time), small ones one unit each. Waiters are served first come, first served,
and can show their place in the queue; a wait longer than ``timeout_s`` ends in a clear ``ServerBusyError``.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from neurix_core.errors import NeurixError

PARSE_CAPACITY = 2  # units: two small parses, or one large one
LARGE_INPUT_BYTES = 4 * 2**20  # uploads above this take every unit
DEFAULT_TIMEOUT_S = 120.0


class ServerBusyError(NeurixError):
    """Heavy work could not be admitted in time: the server is busy with other users' uploads."""


class FairGate:
    """A counting gate with weights and an order: ``acquire`` waits its turn, ``release`` gives back.

    Waiters are served by ``priority`` (lower first), then in order of arrival; ``first`` puts a waiter ahead of
    every priority. The one queue behind the parse queue (``Admission``: all priorities equal, so first come,
    first served) and the dashboard's page turns (``dashboard/pacing.py``: the least-served session first).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._free = capacity
        self._queue: list[tuple[float, int, object]] = []  # (priority, arrival, ticket); few waiters: a list
        self._arrivals = itertools.count()
        self._cond = threading.Condition()

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def busy(self) -> int:
        with self._cond:
            return self.capacity - self._free

    def _next(self, entry: tuple[float, int, object], units: int) -> bool:
        """Whether ``entry`` is the waiter to serve now and its ``units`` are free (called locked)."""
        return min(self._queue) is entry and self._free >= units

    def acquire(
        self,
        units: int,
        timeout_s: float,
        on_wait: Callable[[int], None] | None = None,
        first: bool = False,
        priority: float = 0.0,
    ) -> bool:
        """Take ``units`` in order (see the class); False, leaving the queue, if they did not come within
        ``timeout_s``. ``on_wait(place)`` is called once, unlocked, if it must wait."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            entry = (-math.inf if first else priority, next(self._arrivals), object())
            self._queue.append(entry)
            if not self._next(entry, units) and on_wait is not None:
                place = sum(1 for other in self._queue if other <= entry)
                self._cond.release()
                try:
                    on_wait(place)
                finally:
                    self._cond.acquire()
            while not self._next(entry, units):
                left = deadline - time.monotonic()
                if left <= 0:
                    self._queue.remove(entry)
                    self._cond.notify_all()
                    return False
                self._cond.wait(left)
            self._queue.remove(entry)
            self._free -= units
            self._cond.notify_all()
            return True

    def release(self, units: int) -> None:
        with self._cond:
            self._free += units
            self._cond.notify_all()


class Admission(FairGate):
    """The parse queue's gate: ``with gate.admit(units, on_wait): ...``."""

    @contextmanager
    def admit(
        self,
        units: int = 1,
        on_wait: Callable[[int], None] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Iterator[None]:
        """Hold ``units`` (capped at capacity) for the block; ``on_wait(place)`` is called once if it must wait."""
        units = max(1, min(units, self.capacity))
        if not self.acquire(units, timeout_s, on_wait):
            raise ServerBusyError("The server is busy reading other users' files: try again in a minute.")
        try:
            yield
        finally:
            self.release(units)


PARSING = Admission(PARSE_CAPACITY)


def parse_units(data: bytes) -> int:
    """Units a parse of ``data`` takes: compressed inputs count at a typical unpacked size (gzip 8×, xlsx 10×)."""
    factor = 8 if data[:2] == b"\x1f\x8b" else 10 if data[:4] == b"PK\x03\x04" else 1
    return PARSE_CAPACITY if len(data) * factor > LARGE_INPUT_BYTES else 1
