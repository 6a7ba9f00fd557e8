"""The server's upload workers (dashboard/workers.py): same results as in-process, errors come back as the
project's own, a dead worker ends its job cleanly, and workers never outlive the server."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dashboard import workers
from neurix_core.errors import DataFormatError, LimitExceededError, NeurixError

ROOT = Path(__file__).resolve().parents[1]


class Model:
    """Stands in for the Neurix object the server forks its workers with."""

    def __init__(self, offset: int) -> None:
        self.offset = offset


def add(model: Model, value: int) -> tuple[int, int]:
    return model.offset + value, os.getpid()


def refuse(model: Model, message: str) -> None:
    raise LimitExceededError(message)


def malformed(model: Model) -> None:
    raise DataFormatError("upload.csv", "no gene column")


def die(model: Model) -> None:
    os._exit(1)  # as the kernel's out-of-memory killer would end it


@pytest.fixture
def served() -> Model:
    model = Model(100)
    assert workers.start(model, 1) == 1
    yield model
    workers.stop()


def test_without_workers_jobs_run_in_this_process() -> None:
    assert not workers.running()
    assert workers.run(Model(1), add, 2) == (3, os.getpid())


def test_jobs_run_in_a_worker_with_the_served_model(served: Model) -> None:
    value, pid = workers.run(served, add, 5)
    assert value == 105 and pid != os.getpid()
    other = Model(7)  # not the model the workers were forked with: never sent there
    assert workers.run(other, add, 1) == (8, os.getpid())


def test_a_download_is_built_in_a_worker_byte_for_byte_as_pandas_writes_it(served: Model) -> None:
    import pandas as pd

    from dashboard.widgets import csv_download

    table = pd.DataFrame(
        {"drug": ["Olaparib", '5-FU, "fluorouracil"'], "z": [-1.25, float("nan")], "in_domain": [True, False]}
    )
    build = csv_download(served, table)  # type: ignore[arg-type]  # the served stand-in model
    assert build() == table.to_csv(index=False).encode("utf-8")
    assert workers.running()


def test_errors_come_back_as_the_same_user_facing_errors(served: Model) -> None:
    with pytest.raises(LimitExceededError, match="too many genes"):
        workers.run(served, refuse, "too many genes")
    with pytest.raises(DataFormatError) as caught:
        workers.run(served, malformed)
    assert (caught.value.source, caught.value.problem) == ("upload.csv", "no gene column")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value) == "upload.csv: no gene column"


def test_a_dead_worker_ends_its_job_with_a_clear_error_and_later_jobs_run_here(served: Model) -> None:
    with pytest.raises(NeurixError, match="could not finish this request"):
        workers.run(served, die)
    assert not workers.running()
    assert workers.run(served, add, 1) == (101, os.getpid())


def test_workers_end_with_the_server_even_when_it_is_killed() -> None:
    """The server forks its workers; SIGKILL on the server must not leave them running (they ignore the
    server's own SIGTERM handler and get SIGTERM from the kernel when their parent dies)."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from dashboard import workers
        signal.signal(signal.SIGTERM, lambda *_: None)  # a server's handler, inherited by the fork
        workers.start(object(), 2)
        print(" ".join(str(p) for p in workers._pool._processes), flush=True)
        time.sleep(60)
        """
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in server.stdout.readline().split()]
        assert len(pids) == 2 and all(Path(f"/proc/{p}").exists() for p in pids)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids), "worker processes outlived the server"
    finally:
        server.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def sleep_and_tag(model: Model, name: str, seconds: float) -> str:
    time.sleep(seconds)
    return name


def test_queued_jobs_are_served_least_served_session_first(served: Model) -> None:
    """With every worker busy, the waiting job of the session that used the server least goes next, as on the
    page turns (dashboard/pacing.py), not in the pool's order of submission."""
    import threading

    from dashboard.pacing import PAGE_TURNS

    finished: list[str] = []
    busy = threading.Thread(target=lambda: finished.append(workers.run(served, sleep_and_tag, "busy", 0.6)))
    busy.start()
    time.sleep(0.2)  # the only worker is busy

    def job(account: str, served_s: float) -> threading.Thread:
        PAGE_TURNS._charge(account, served_s)  # noqa: SLF001 - this session's recent use of the server

        def body() -> None:
            with PAGE_TURNS.turn(account=account):
                finished.append(workers.run(served, sleep_and_tag, account, 0.0))

        thread = threading.Thread(target=body)
        thread.start()
        time.sleep(0.1)
        return thread

    threads = [job("test-heavy-session", 5.0), job("test-light-session", 0.1)]
    for thread in [busy, *threads]:
        thread.join(10)
    assert finished == ["busy", "test-light-session", "test-heavy-session"]
