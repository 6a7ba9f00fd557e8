"""Turns for page scripts on a shared server: a few compute at once, the least-served session first; the rest
wait their turn.

Why: Streamlit runs each session's script on a thread of one Python interpreter, so 20 simultaneous users are 20
threads sharing one interpreter lock. Each run then progresses at a twentieth of the speed: all of them finish
late; the event loop, which receives uploads, gets a twenty-first of the interpreter (a 46 MB upload took 8-9 s to
arrive instead of 0.25 s); and early users' explanations slow down later users' uploads. Taking turns (``capacity``
runs at once) finishes runs at full speed and leaves the event loop its share.

Whose turn: the run of the session that has used the server least lately (seconds it held a turn plus seconds a
worker process computed for it, halving every ``HALF_LIFE_S``), ties in order of arrival. A user waiting for the
first predictions of a fresh upload thus goes before one who already has theirs and asks for an explanation, and
one user's heavy pages cannot crowd out everybody else's (least attained service: short jobs finish first, long
ones still progress).

A run gives its turn back while it waits for something other than this interpreter (a worker process, the parse
queue: ``paused``), and takes it back ahead of every run that has not started yet, so that started work finishes
first and waiting never blocks the others. A run that waited ``MAX_WAIT_S`` for a turn proceeds without one: turns
order the work, they never stall a page.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from neurix_core.admission import FairGate

TURNS_ENV = "NEURIX_PAGE_TURNS"
DEFAULT_TURNS = 2
MAX_WAIT_S = 20.0
HALF_LIFE_S = 30.0  # how fast a session's use of the server is forgiven
MAX_ACCOUNTS = 512  # beyond this many sessions' accounts, the negligible ones are dropped


class Turns:
    """Turns for page runs, ``capacity`` at once (``capacity`` ≤ 0: no gate), least-served session first, on the
    parse queue's ``FairGate``."""

    def __init__(self, capacity: int, half_life_s: float = HALF_LIFE_S) -> None:
        self.capacity = capacity
        self.half_life_s = half_life_s
        self._gate = FairGate(max(0, capacity))
        # per thread: .held (a turn now), .priority (this run's place in line), .away (seconds this run spent
        # without its turn), .worked (seconds worker processes computed for this run)
        self._local = threading.local()
        # account (a session) → (seconds served, when: time.monotonic())
        self._served: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return self._gate.waiting

    def served(self, account: str) -> float:
        """Seconds of the server ``account`` (a session) used lately, decayed with ``half_life_s``."""
        with self._lock:
            return self._decayed(account, time.monotonic())

    def priority(self) -> float:
        """The calling thread's run's place in line (its session's ``served`` when the run began; 0 outside a
        run): other queues the run waits in (the worker processes) serve it in the same order."""
        return getattr(self._local, "priority", 0.0)

    def _decayed(self, account: str, now: float) -> float:
        seconds, when = self._served.get(account, (0.0, now))
        return seconds * 0.5 ** ((now - when) / self.half_life_s)

    def _charge(self, account: str, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._served[account] = (self._decayed(account, now) + seconds, now)
            if len(self._served) > MAX_ACCOUNTS:  # closed sessions' accounts: forgotten once negligible
                for key in [k for k in self._served if self._decayed(k, now) < 0.001]:
                    del self._served[key]

    def _take(self, first: bool, max_wait_s: float, priority: float = 0.0) -> bool:
        """Wait for a turn (ahead of every run that has not started with ``first``, else by ``priority``); False
        if none came in ``max_wait_s``."""
        return self.capacity > 0 and self._gate.acquire(1, max_wait_s, first=first, priority=priority)

    def _give_back(self) -> None:
        self._gate.release(1)

    @contextmanager
    def turn(self, max_wait_s: float = MAX_WAIT_S, account: str | None = None) -> Iterator[None]:
        """Hold a turn for the block (a page script's run), charged to ``account`` (the session; None: served in
        order of arrival, charged to nobody); nested calls share the outer turn."""
        if getattr(self._local, "held", False):
            yield
            return
        priority = self._local.priority = self.served(account) if account is not None else 0.0
        self._local.held = self._take(first=False, max_wait_s=max_wait_s, priority=priority)
        self._local.away = self._local.worked = 0.0
        started = time.monotonic()
        try:
            yield
        finally:
            if getattr(self._local, "held", False):
                self._give_back()
            self._local.held = False
            self._local.priority = 0.0
            if account is not None:
                served = time.monotonic() - started - self._local.away + self._local.worked
                self._charge(account, served)

    @contextmanager
    def paused(self, max_wait_s: float = MAX_WAIT_S) -> Iterator[None]:
        """Give this thread's turn back while it waits on something else; take it back first in line after.
        The time away is not charged to the session (a worker's computing is: ``worked``)."""
        if not getattr(self._local, "held", False):
            yield
            return
        self._give_back()
        self._local.held = False
        left = time.monotonic()
        try:
            yield
        finally:
            self._local.held = self._take(first=True, max_wait_s=max_wait_s)
            self._local.away = getattr(self._local, "away", 0.0) + time.monotonic() - left

    def worked(self, seconds: float) -> None:
        """Charge the calling thread's run with ``seconds`` a worker process computed for it."""
        self._local.worked = getattr(self._local, "worked", 0.0) + seconds


def _capacity() -> int:
    value = os.environ.get(TURNS_ENV, "").strip()
    return int(value) if value else DEFAULT_TURNS


PAGE_TURNS = Turns(_capacity())
