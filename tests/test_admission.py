"""The process-wide parse admission queue: bounded concurrency, FIFO order, visible queueing, clear timeout."""

from __future__ import annotations

import threading
import time

import pytest

from neurix_core.admission import PARSE_CAPACITY, Admission, FairGate, ServerBusyError, parse_units


def test_at_most_capacity_units_run_at_once_and_waiters_see_their_place() -> None:
    gate = Admission(2)
    running, peak, places = [0], [0], []
    lock = threading.Lock()
    release = threading.Event()

    def work(units: int) -> None:
        with gate.admit(units, on_wait=places.append):
            with lock:
                running[0] += units
                peak[0] = max(peak[0], running[0])
            release.wait(5)
            with lock:
                running[0] -= units

    threads = [threading.Thread(target=work, args=(1,)) for _ in range(5)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while gate.waiting < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gate.busy == 2 and gate.waiting == 3
    assert sorted(places) == [1, 2, 3]  # each waiter was told its place once
    release.set()
    for t in threads:
        t.join(5)
    assert peak[0] == 2 and gate.busy == 0 and gate.waiting == 0


def test_a_large_parse_takes_every_unit_and_order_is_first_come_first_served() -> None:
    gate = Admission(2)
    order: list[str] = []
    hold = threading.Event()

    def small_holder() -> None:
        with gate.admit(1):
            hold.wait(5)

    def job(name: str, units: int) -> None:
        with gate.admit(units):
            order.append(name)

    holder = threading.Thread(target=small_holder)
    holder.start()
    time.sleep(0.05)
    large = threading.Thread(target=job, args=("large", 5))  # capped at capacity: waits for the holder
    large.start()
    time.sleep(0.05)
    small = threading.Thread(target=job, args=("small", 1))  # one unit is free, but it queues behind
    small.start()
    time.sleep(0.05)
    assert order == []
    hold.set()
    for t in (holder, large, small):
        t.join(5)
    assert order == ["large", "small"]


def test_the_gate_serves_lower_priorities_first_then_in_order_of_arrival() -> None:
    """The order behind the page turns: priority (the session's recent use), ties by arrival, and ``first`` (a
    run taking its turn back) ahead of everything."""
    gate = FairGate(1)
    assert gate.acquire(1, 1.0)
    order: list[str] = []

    def waiter(name: str, priority: float, first: bool = False) -> threading.Thread:
        def body() -> None:
            assert gate.acquire(1, 5.0, priority=priority, first=first)
            order.append(name)
            gate.release(1)

        thread = threading.Thread(target=body)
        thread.start()
        time.sleep(0.05)
        return thread

    threads = [
        waiter("heavy", 2.0),
        waiter("light", 0.5),
        waiter("light too", 0.5),
        waiter("back", 9.0, True),
    ]
    assert gate.waiting == 4
    gate.release(1)
    for thread in threads:
        thread.join(5)
    assert order == ["back", "light", "light too", "heavy"]


def test_a_wait_longer_than_the_timeout_is_a_clear_error() -> None:
    gate = Admission(1)
    with gate.admit(1), pytest.raises(ServerBusyError, match="busy"), gate.admit(1, timeout_s=0.05):
        pass
    assert gate.waiting == 0 and gate.busy == 0


def test_compressed_uploads_count_at_their_unpacked_size() -> None:
    assert parse_units(b"gene,S1\n" * 10) == 1
    assert parse_units(b"x" * (5 * 2**20)) == PARSE_CAPACITY
    assert parse_units(b"\x1f\x8b" + b"x" * 2**20) == PARSE_CAPACITY  # 1 MiB of gzip may be 8 MiB of text


def test_the_dashboard_shows_queued_uploads_and_then_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload arriving while the parse slots are taken says 'Queued' and is read as soon as one frees."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from dashboard import widgets

    gate = Admission(1)
    shown: list[int] = []
    original = gate.admit

    def spying_admit(units: int = 1, on_wait=None, timeout_s: float = 120.0):  # noqa: ANN001, ANN202
        def record(place: int) -> None:
            shown.append(place)
            if on_wait is not None:
                on_wait(place)

        return original(units, on_wait=record, timeout_s=timeout_s)

    monkeypatch.setattr(gate, "admit", spying_admit)
    monkeypatch.setattr(widgets, "PARSING", gate)
    busy = threading.Event()

    def other_user() -> None:
        with original(1):
            busy.set()
            time.sleep(1.5)

    at = AppTest.from_file(
        str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"), default_timeout=120
    )
    at.switch_page("views/predict.py")
    at.run()  # model loaded; now another user's parse takes the only slot
    holder = threading.Thread(target=other_user)
    holder.start()
    busy.wait(5)
    at.file_uploader[0].set_value(("p.csv", b"gene,S1\nTP53,5.5\nEGFR,2.5\nMYC,7.5\n", "text/csv"))
    at.run()
    holder.join(5)
    assert shown == [1], "the upload waited, and its page was told its place"
    assert widgets.UPLOAD_KEY in at.session_state  # then it was processed (a result or a readable refusal)
    assert not at.exception


def test_each_session_has_a_parse_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import widgets
    from neurix_core.errors import LimitExceededError

    monkeypatch.setattr(widgets.st, "session_state", {})
    for _ in range(widgets.MAX_PARSES_PER_WINDOW):
        widgets._spend_parse_budget()
    with pytest.raises(
        LimitExceededError, match=r"in the last 10 minutes, the most allowed: try again in \d+ s"
    ):
        widgets._spend_parse_budget()
    later = time.monotonic() + widgets.PARSE_WINDOW_S + 1
    monkeypatch.setattr(widgets.time, "monotonic", lambda: later)
    widgets._spend_parse_budget()  # the window slides: old parses no longer count


def test_a_bomb_is_refused_before_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """A decompression bomb is refused at once by the pre-check, not after the parses queued ahead of it."""
    import zlib

    from dashboard import widgets
    from neurix_core.api import Neurix
    from neurix_core.errors import LimitExceededError

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join([packer.compress(b"0" * 2**20) for _ in range(40)] + [packer.flush()])
    gate = Admission(1)
    monkeypatch.setattr(widgets, "PARSING", gate)
    monkeypatch.setattr(widgets.st, "session_state", {})
    monkeypatch.setattr(widgets, "profile_limits", lambda: widgets.ProfileLimits())
    with gate.admit(1), pytest.raises(LimitExceededError, match="times its compressed size"):
        # the only parse slot is taken for good: reaching the queue would wait and then say "busy"
        widgets.ingest_bytes(Neurix.__new__(Neurix), bomb, "bomb.csv.gz")
