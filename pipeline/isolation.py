"""Run a worker request in its own child process and always come back with a result."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys

from gait2hip.core.atomic import write_json_atomically
from gait2hip.pipeline.tasks import REQUEST_FILE, RESULT_FILE, TaskRequest, TaskResult

# The child reads these to die with the process that started it and with the batch (gait2hip.pipeline.worker).
PARENT_PID_VARIABLE = "GAIT2HIP_TASK_PARENT_PID"
BATCH_PID_VARIABLE = "GAIT2HIP_BATCH_PID"


def run_in_child_process(request: TaskRequest, timeout_s: float | None = None,
                         batch_pid: int | None = None) -> TaskResult:
    """Run ``python -m gait2hip.pipeline.worker`` on ``request``; return the result it wrote.

    Never raises for a problem of the task itself. When the task's folder cannot be written,
    the result says so (stage ``outputs``). When the child dies without reporting (an OpenSim
    abort, a kill, a timeout), the result says so: status ``failed``, stage ``crash`` or
    ``timeout``, and the exit code or signal. ``timeout_s`` None or infinite: no limit. The
    child is killed when this process dies, so a lost batch worker leaves no child behind, and
    when the process ``batch_pid`` (the batch on this host, when it is not this process) dies: a
    batch worker busy waiting for its child would only notice that once the task had finished,
    and the task would go on writing into a labels folder a resumed batch is already using.
    """
    out_dir = request.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / RESULT_FILE).unlink(missing_ok=True)
        request_path = write_json_atomically(out_dir / REQUEST_FILE, request.to_json())
    except OSError as error:
        return TaskResult.failure(request.kind, request.input_hash, "outputs",
                                  f"{out_dir}: the task's folder cannot be written ({error.strerror or error})")
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                   PARENT_PID_VARIABLE: str(os.getpid())}
    if batch_pid is not None:
        environment[BATCH_PID_VARIABLE] = str(batch_pid)
    limit_s = None if timeout_s is None or math.isinf(timeout_s) else timeout_s
    try:
        completed = subprocess.run([sys.executable, "-m", "gait2hip.pipeline.worker", str(request_path)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=limit_s,
                                   env=environment, cwd=out_dir)
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child and waited for it
        return TaskResult.failure(request.kind, request.input_hash, "timeout",
                                  f"did not finish within {timeout_s:g} s (the task's time limit); "
                                  f"a hanging OpenSim tool is stopped this way")
    except OSError as error:
        return TaskResult.failure(request.kind, request.input_hash, "crash",
                                  f"the worker process could not be started ({error})")
    result = TaskResult.read(out_dir)
    if result is not None:
        return result
    code = completed.returncode
    cause = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    tail = completed.stderr.decode(errors="replace").strip().splitlines()[-5:]
    return TaskResult.failure(request.kind, request.input_hash, "crash",
                              f"worker process died ({cause}) without reporting; last output: {' | '.join(tail)}")
