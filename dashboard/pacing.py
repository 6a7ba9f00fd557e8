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
from collections.abc import Iterator
from contextlib import contextmanager

from neurix_core.admission import FairGate

TURNS_ENV = "NEURIX_PAGE_TURNS"
DEFAULT_TURNS = 2
MAX_WAIT_S = 20.0


class Turns:
    """First-come, first-served turns, ``capacity`` at once (``capacity`` ≤ 0: no gate), on the parse queue's
    ``FairGate``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._gate = FairGate(max(0, capacity))
        self._local = threading.local()  # .held: whether the calling thread holds one of these turns now

    @property
    def waiting(self) -> int:
        return self._gate.waiting

    def _take(self, first: bool, max_wait_s: float) -> bool:
        """Wait for a turn (at the head of the queue with ``first``); False if none came in ``max_wait_s``."""
        return self.capacity > 0 and self._gate.acquire(1, max_wait_s, first=first)

    def _give_back(self) -> None:
        self._gate.release(1)

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
