"""Run a worker request in its own child process and always come back with a result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from gait2hip.core.atomic import write_json_atomically
from gait2hip.pipeline.tasks import REQUEST_FILE, RESULT_FILE, TaskRequest, TaskResult


def run_in_child_process(request: TaskRequest, timeout_s: float | None = None) -> TaskResult:
    """Run ``python -m gait2hip.pipeline.worker`` on ``request``; return the result it wrote.

    When the child dies without reporting (an OpenSim abort, a kill, a timeout), the returned
    result says so: status ``failed``, stage ``crash`` or ``timeout``, and the exit code or signal.
    """
    out_dir = request.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = out_dir / RESULT_FILE
    result_path.unlink(missing_ok=True)
    request_path = write_json_atomically(out_dir / REQUEST_FILE, request.to_json())
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    try:
        completed = subprocess.run([sys.executable, "-m", "gait2hip.pipeline.worker", str(request_path)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout_s,
                                   env=environment, cwd=out_dir)
    except subprocess.TimeoutExpired:
        return TaskResult.failure(request.kind, request.input_hash, "timeout", f"did not finish within {timeout_s:g} s")
    if result_path.is_file():
        return TaskResult.from_json(json.loads(result_path.read_text()), out_dir)
    code = completed.returncode
    cause = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    tail = completed.stderr.decode(errors="replace").strip().splitlines()[-5:]
    return TaskResult.failure(request.kind, request.input_hash, "crash",
                              f"worker process died ({cause}) without reporting; last output: {' | '.join(tail)}")
