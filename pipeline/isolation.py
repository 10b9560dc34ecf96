"""Run a worker request in its own child process and always come back with a result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from gait2hip.core.atomic import write_json_atomically
from gait2hip.pipeline.worker import RESULT_FILE


def run_in_child_process(request: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
    """Run ``python -m gait2hip.pipeline.worker`` on ``request``; return its ``result.json`` content.

    When the child dies without reporting (an OpenSim abort, a kill, a timeout), the returned
    result says so with status ``failed`` and the exit code or signal.
    """
    out_dir = Path(request["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = out_dir / RESULT_FILE
    result_path.unlink(missing_ok=True)
    request_path = write_json_atomically(out_dir / "request.json", request)
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    try:
        completed = subprocess.run([sys.executable, "-m", "gait2hip.pipeline.worker", str(request_path)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout_s,
                                   env=environment, cwd=out_dir)
    except subprocess.TimeoutExpired:
        return _failed(request, "timeout", f"did not finish within {timeout_s:g} s")
    if result_path.is_file():
        return json.loads(result_path.read_text())
    code = completed.returncode
    cause = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    tail = completed.stderr.decode(errors="replace").strip().splitlines()[-5:]
    return _failed(request, "crash", f"worker process died ({cause}) without reporting; last output: {' | '.join(tail)}")


def _failed(request: dict[str, Any], stage: str, error: str) -> dict[str, Any]:
    return {"kind": request["kind"], "input_hash": request["input_hash"], "status": "failed",
            "failed_stage": stage, "error": error}
