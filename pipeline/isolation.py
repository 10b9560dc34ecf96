"""Run a worker request in its own child process and always come back with a result."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

from gait2hip.core.atomic import write_json_atomically
from gait2hip.pipeline.fork_server import ChildExit, ForkServerError, ForkServerPool
from gait2hip.pipeline.tasks import REQUEST_FILE, RESULT_FILE, TaskRequest, TaskResult
from gait2hip.pipeline.worker import BATCH_PID_VARIABLE, PARENT_PID_VARIABLE, SINGLE_THREADED_ENVIRONMENT

# Where there is no fork (Windows), each task starts its own interpreter instead.
FORK_AVAILABLE = hasattr(os, "fork")

# This process's fork servers. They must outlive a call (each holds the imports its tasks
# start from), and a batch worker process is handed tasks one call at a time, so they are kept
# per process, like a connection pool.
_FORK_SERVERS = ForkServerPool()


def run_in_child_process(request: TaskRequest, timeout_s: float | None = None, batch_pid: int | None = None, *,
                         use_fork_server: bool = FORK_AVAILABLE) -> TaskResult:
    """Run ``request`` in a child process of its own (forked by a fork server); return the result it wrote.

    ``use_fork_server`` False starts ``python -m gait2hip.pipeline.worker`` for the task instead:
    the same isolation, with the imports paid by every task.

    Never raises for a problem of the task itself. When the task's folder cannot be written,
    the result says so (stage ``outputs``). When the child dies without reporting (an OpenSim
    abort, a kill, a timeout), the result says so: status ``failed``, stage ``crash`` or
    ``timeout``, and the exit code or signal. ``timeout_s`` None or infinite: no limit; it
    counts from the task's start, not the fork server's imports. The child is killed when its
    fork server dies, which dies with this process, so a lost batch worker leaves no child
    behind; and when the process ``batch_pid`` (the batch on this host, when it is not this
    process) dies: a batch worker busy waiting for its child would only notice that once the
    task had finished, and the task would go on writing into a labels folder a resumed batch is
    already using.
    """
    out_dir = request.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / RESULT_FILE).unlink(missing_ok=True)
        request_path = write_json_atomically(out_dir / REQUEST_FILE, request.to_json())
    except OSError as error:
        return TaskResult.failure(request.kind, request.input_hash, "outputs",
                                  f"{out_dir}: the task's folder cannot be written ({error.strerror or error})")
    limit_s = None if timeout_s is None or math.isinf(timeout_s) else timeout_s
    try:
        ended = (_run_forked if use_fork_server else _run_interpreter)(request_path, out_dir, limit_s, batch_pid)
    except (ForkServerError, OSError) as error:
        return TaskResult.failure(request.kind, request.input_hash, "crash", f"worker process lost ({error})")
    if ended.timed_out:
        return TaskResult.failure(request.kind, request.input_hash, "timeout",
                                  f"did not finish within {timeout_s:g} s (the task's time limit); "
                                  f"a hanging OpenSim tool is stopped this way")
    result = TaskResult.read(out_dir)
    if result is not None:
        return result
    code = ended.exit_code
    cause = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    return TaskResult.failure(request.kind, request.input_hash, "crash",
                              f"worker process died ({cause}) without reporting; last output: "
                              f"{' | '.join(ended.stderr_tail)}")


def _run_forked(request_path: Path, out_dir: Path, limit_s: float | None, batch_pid: int | None) -> ChildExit:
    server = _FORK_SERVERS.take()
    try:
        ended = server.run(request_path, out_dir, limit_s, batch_pid)
    except (ForkServerError, OSError):
        server.close()
        raise
    _FORK_SERVERS.give_back(server)
    return ended


def _run_interpreter(request_path: Path, out_dir: Path, limit_s: float | None, batch_pid: int | None) -> ChildExit:
    environment = {**os.environ, **SINGLE_THREADED_ENVIRONMENT, PARENT_PID_VARIABLE: str(os.getpid())}
    if batch_pid is not None:
        environment[BATCH_PID_VARIABLE] = str(batch_pid)
    try:
        completed = subprocess.run([sys.executable, "-m", "gait2hip.pipeline.worker", str(request_path)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=limit_s,
                                   env=environment, cwd=out_dir)
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child and waited for it
        return ChildExit(-signal.SIGKILL, True, ())
    tail = tuple(completed.stderr.decode(errors="replace").strip().splitlines()[-5:])
    return ChildExit(completed.returncode, False, tail)
