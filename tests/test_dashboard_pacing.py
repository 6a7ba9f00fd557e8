"""The server's turns for page scripts (dashboard/pacing.py) and the guard's coalesced upload bodies."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from dashboard.guard import _coalesced
from dashboard.pacing import Turns


def _run_all(targets: list[Any]) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for thread in threads:
        thread.start()
        time.sleep(0.02)  # arrive in this order
    for thread in threads:
        thread.join(10)


def test_at_most_capacity_runs_hold_a_turn_and_they_are_served_in_order_of_arrival() -> None:
    turns = Turns(2)
    lock = threading.Lock()
    running, most, started = 0, 0, []

    def run(name: str) -> Any:
        def body() -> None:
            nonlocal running, most
            with turns.turn():
                with lock:
                    running += 1
                    most = max(most, running)
                    started.append(name)
                time.sleep(0.1)
                with lock:
                    running -= 1

        return body

    _run_all([run(f"r{i}") for i in range(6)])
    assert most == 2
    assert started == [f"r{i}" for i in range(6)]


def test_a_paused_run_lets_others_go_and_comes_back_before_runs_that_have_not_started() -> None:
    turns = Turns(1)
    order: list[str] = []
    worker_done = threading.Event()

    def waits_for_a_worker() -> None:
        with turns.turn():
            order.append("A starts")
            with turns.paused():  # e.g. a job in a worker process
                worker_done.wait(5)
            order.append("A finishes")

    def short(name: str) -> Any:
        def body() -> None:
            with turns.turn():
                order.append(name)
                if name == "B":
                    worker_done.set()  # A's job ends while B holds the only turn
                    time.sleep(0.05)  # C queues meanwhile

        return body

    _run_all([waits_for_a_worker, short("B"), short("C")])
    assert order == ["A starts", "B", "A finishes", "C"]


def test_the_session_that_used_the_server_least_lately_goes_first() -> None:
    """A fresh upload's run (little served) overtakes the next page of a session that already had its results;
    ties are served in order of arrival; what a session used is forgiven with the half-life."""
    turns = Turns(1, half_life_s=60.0)
    with turns.turn(account="explaining"):
        time.sleep(0.3)  # e.g. its upload's predictions: 0.3 s of the server
    assert 0.25 < turns.served("explaining") < 1.0
    assert turns.served("new") == 0.0
    order: list[str] = []
    blocker_in, release = threading.Event(), threading.Event()

    def blocker() -> None:
        with turns.turn():
            blocker_in.set()
            release.wait(5)

    def run(account: str, name: str) -> Any:
        def body() -> None:
            with turns.turn(account=account):
                order.append(name)

        return body

    thread = threading.Thread(target=blocker)
    thread.start()
    blocker_in.wait(5)
    arrivals = [run("explaining", "explain page"), run("new", "first upload"), run("other", "second upload")]
    threads = [threading.Thread(target=t) for t in arrivals]
    for t in threads:
        t.start()
        time.sleep(0.05)  # all three queue behind the blocker, in this order
    release.set()
    for t in [thread, *threads]:
        t.join(5)
    assert order == ["first upload", "second upload", "explain page"]
    forgiving = Turns(1, half_life_s=0.2)
    with forgiving.turn(account="a"):
        time.sleep(0.2)
    time.sleep(0.4)  # two half-lives
    assert forgiving.served("a") < 0.1


def test_a_workers_computing_is_charged_to_the_session_and_time_away_from_the_turn_is_not() -> None:
    turns = Turns(1)
    with turns.turn(account="queued"), turns.paused():
        time.sleep(0.2)  # e.g. waiting in the parse queue: nothing of this server used for this session
    assert turns.served("queued") < 0.05
    with turns.turn(account="computed"), turns.paused():
        time.sleep(0.2)
        turns.worked(0.2)  # dashboard.workers: a worker process computed for this run meanwhile
    assert 0.15 < turns.served("computed") < 0.3
    assert turns.priority() == 0.0  # outside a run
    with turns.turn(account="computed"):
        assert turns.priority() > 0.15  # the run's place in other queues (the worker processes)
        assert abs(turns.priority() - turns.served("computed")) < 0.01


def test_nested_turns_share_the_outer_one_and_a_run_never_waits_forever() -> None:
    turns = Turns(1)
    with turns.turn(), turns.turn():  # a page run inside the app's run: no deadlock
        pass
    blocker_in, release = threading.Event(), threading.Event()

    def blocker() -> None:
        with turns.turn():
            blocker_in.set()
            release.wait(5)

    thread = threading.Thread(target=blocker)
    thread.start()
    blocker_in.wait(5)
    start = time.monotonic()
    with turns.turn(max_wait_s=0.2):  # proceeds without a turn after the wait
        waited = time.monotonic() - start
    release.set()
    thread.join(5)
    assert 0.15 < waited < 2
    assert turns.waiting == 0
    with turns.turn(max_wait_s=0.5):  # the gate still works: the turn came back
        pass


def test_capacity_zero_is_no_gate() -> None:
    turns = Turns(0)  # NEURIX_PAGE_TURNS=0: every run goes at once, as without turns
    both_in = threading.Barrier(2, timeout=2)

    def run() -> None:
        with turns.turn(max_wait_s=5), turns.paused():
            both_in.wait()  # raises BrokenBarrierError if the second run were held back

    _run_all([run, run])
    assert not both_in.broken


def test_upload_bodies_reach_the_parser_in_large_pieces_with_every_byte_in_order() -> None:
    pieces = [bytes([i]) * 1000 for i in range(25)]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def read_all() -> list[dict[str, Any]]:
        coalesced, out = _coalesced(receive, at_least=4000), []
        while True:
            out.append(await coalesced())
            if not out[-1].get("more_body"):
                return out

    out = asyncio.run(read_all())
    assert b"".join(m["body"] for m in out) == b"".join(pieces)
    assert [len(m["body"]) for m in out] == [4000] * 6 + [1000]
    assert [m["more_body"] for m in out] == [True] * 6 + [False]


def test_a_client_that_goes_away_mid_upload_is_passed_on() -> None:
    messages = [
        {"type": "http.request", "body": b"x" * 10, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    assert asyncio.run(_coalesced(receive, at_least=100)())["type"] == "http.disconnect"
