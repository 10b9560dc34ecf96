"""The fork server: one import for many tasks, and still a process of its own for each task."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from support.processes import gone_within

from gait2hip.pipeline.fork_server import (CHILD_STDERR_FILE, ForkServerClient, ForkServerError, ForkServerPool, ChildExit,
                                           task_processes)

# How long a test waits for a task child to show up or to go (s).
APPEAR_LIMIT_S = 20.0


@pytest.fixture(scope="module")
def server():
    client = ForkServerClient()
    yield client
    client.close()


def _unparseable_request(folder: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "request.json"
    path.write_text("{not json")
    return path


def _hanging_request(folder: Path) -> Path:
    """A request file no child can read: a FIFO nobody writes, so its child blocks until stopped."""
    folder.mkdir(parents=True)
    path = folder / "request.json"
    os.mkfifo(path)
    return path


def _run_in_thread(server: ForkServerClient, request: Path, timeout_s: float | None,
                   batch_pid: int | None = None) -> tuple[threading.Thread, list]:
    outcome: list[ChildExit | Exception] = []

    def run() -> None:
        try:
            outcome.append(server.run(request, request.parent, timeout_s, batch_pid))
        except Exception as error:  # noqa: BLE001 - the test looks at what the call gave
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _task_child_of(request: Path) -> int:
    deadline = time.monotonic() + APPEAR_LIMIT_S
    while time.monotonic() < deadline:
        for pid, request_path in task_processes():
            if request_path == request.resolve():
                return pid
        time.sleep(0.02)
    raise AssertionError(f"no task process for {request} within {APPEAR_LIMIT_S} s")


def test_a_failing_task_reports_its_exit_code_and_the_end_of_its_stderr(server, tmp_path):
    request = _unparseable_request(tmp_path / "task")

    ended = server.run(request, request.parent, 60.0, None)

    assert ended.exit_code == 1 and not ended.timed_out
    assert any("JSONDecodeError" in line for line in ended.stderr_tail)
    assert not (request.parent / CHILD_STDERR_FILE).exists()


def test_one_server_forks_a_new_process_for_every_task(server, tmp_path):
    pids = []
    for index in range(2):
        request = _hanging_request(tmp_path / f"task{index}")
        thread, outcome = _run_in_thread(server, request, timeout_s=None)
        pids.append(_task_child_of(request))
        os.kill(pids[-1], signal.SIGTERM)
        thread.join()
        assert outcome[0].exit_code == -signal.SIGTERM
    assert pids[0] != pids[1]
    assert server.alive()


def test_a_task_past_its_time_limit_is_killed_and_the_server_serves_the_next(server, tmp_path):
    hanging = _hanging_request(tmp_path / "hangs")

    ended = server.run(hanging, hanging.parent, 0.5, None)

    assert ended.timed_out and ended.exit_code == -signal.SIGKILL
    after = server.run(_unparseable_request(tmp_path / "next"), tmp_path / "next", 60.0, None)
    assert after.exit_code == 1 and not after.timed_out


def test_a_task_child_dies_with_its_server(tmp_path):
    client = ForkServerClient()
    request = _hanging_request(tmp_path / "task")
    thread, outcome = _run_in_thread(client, request, timeout_s=None)
    child = _task_child_of(request)

    client.process.kill()
    thread.join()

    assert gone_within(child, APPEAR_LIMIT_S)
    assert isinstance(outcome[0], ForkServerError)
    client.close()


def test_the_pool_replaces_a_server_that_died(tmp_path):
    pool = ForkServerPool()
    first = pool.take()
    first.process.kill()
    first.process.wait()
    pool.give_back(first)

    second = pool.take()

    assert second is not first and second.alive()
    ended = second.run(_unparseable_request(tmp_path / "task"), tmp_path / "task", 60.0, None)
    assert ended.exit_code == 1
    second.close()


def test_a_stopped_task_child_is_killed_when_its_batch_ends(server, tmp_path):
    # A stopped child cannot notice the batch's end itself; its server does and kills it.
    batch = subprocess.Popen(["sleep", "600"])
    request = _hanging_request(tmp_path / "task")
    thread, outcome = _run_in_thread(server, request, timeout_s=None, batch_pid=batch.pid)
    child = _task_child_of(request)
    os.kill(child, signal.SIGSTOP)

    batch.kill()
    batch.wait()
    thread.join(timeout=APPEAR_LIMIT_S)

    assert not thread.is_alive()
    assert outcome[0].exit_code == -signal.SIGKILL
    assert server.alive()
