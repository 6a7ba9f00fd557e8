"""Turns for page scripts on a shared server: a few compute at once, in order of arrival; the rest wait their turn.

Why: Streamlit runs each session's script on a thread of one Python interpreter, so 20 simultaneous users are 20
threads sharing one interpreter lock. Each run then progresses at a twentieth of the speed: all of them finish
late; the event loop, which receives uploads, gets a twenty-first of the interpreter (a 46 MB upload took 8-9 s to
arrive instead of 0.25 s); and early users' explanations slow down later users' uploads. Taking turns (``capacity``
runs at once, first come, first served) finishes runs in order at full speed and leaves the event loop its share.

A run gives its turn back while it waits for something other than this interpreter (a worker process, the parse
queue: ``paused``), and takes it back ahead of runs that have not started yet, so that started work finishes first
and waiting never blocks the others. A run that waited ``MAX_WAIT_S`` for a turn proceeds without one: turns order
the work, they never stall a page.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

TURNS_ENV = "NEURIX_PAGE_TURNS"
DEFAULT_TURNS = 2
MAX_WAIT_S = 20.0


class Turns:
    """A first-come, first-served gate of ``capacity`` turns (``capacity`` ≤ 0: no gate)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._free = capacity
        self._queue: deque[object] = deque()
        self._cond = threading.Condition()
        self._local = threading.local()  # .held: whether the calling thread holds one of these turns now

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)

    def _take(self, first: bool, max_wait_s: float) -> bool:
        """Wait for a turn (at the head of the queue with ``first``); False if none came in ``max_wait_s``."""
        if self.capacity <= 0:
            return False
        ticket = object()
        deadline = time.monotonic() + max_wait_s
        with self._cond:
            if first:
                self._queue.appendleft(ticket)
            else:
                self._queue.append(ticket)
            while not (self._queue[0] is ticket and self._free > 0):
                left = deadline - time.monotonic()
                if left <= 0:
                    self._queue.remove(ticket)
                    self._cond.notify_all()
                    return False
                self._cond.wait(left)
            self._queue.popleft()
            self._free -= 1
            self._cond.notify_all()
            return True

    def _give_back(self) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()

    @contextmanager
    def turn(self, max_wait_s: float = MAX_WAIT_S) -> Iterator[None]:
        """Hold a turn for the block (a page script's run); nested calls share the outer turn."""
        if getattr(self._local, "held", False):
            yield
            return
        self._local.held = self._take(first=False, max_wait_s=max_wait_s)
        try:
            yield
        finally:
            if getattr(self._local, "held", False):
                self._give_back()
            self._local.held = False

    @contextmanager
    def paused(self, max_wait_s: float = MAX_WAIT_S) -> Iterator[None]:
        """Give this thread's turn back while it waits on something else; take it back first in line after."""
        if not getattr(self._local, "held", False):
            yield
            return
        self._give_back()
        self._local.held = False
        try:
            yield
        finally:
            self._local.held = self._take(first=True, max_wait_s=max_wait_s)


def _capacity() -> int:
    value = os.environ.get(TURNS_ENV, "").strip()
    return int(value) if value else DEFAULT_TURNS


PAGE_TURNS = Turns(_capacity())
