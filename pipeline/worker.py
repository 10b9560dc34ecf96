"""Run one scaling or one trial in a child process: ``python -m gait2hip.pipeline.worker REQUEST_JSON``.

The batch engine runs each task in its own child process (forked by a
:mod:`~gait2hip.pipeline.fork_server` that has done the imports; this module's ``main`` runs one
request by hand), so an OpenSim abort (it can abort on bad input) kills only that child: the
task is reported failed and the batch goes on. A fresh process per task also keeps a long
batch's memory from growing trial after trial.

The request (:class:`~gait2hip.pipeline.tasks.TaskRequest`) names the task; the child writes
its :class:`~gait2hip.pipeline.tasks.TaskResult` as ``result.json`` (atomically) next to the
task's outputs and exits 0 whenever it could report, failure included.
"""

from __future__ import annotations

import ctypes
import dataclasses
import importlib
import json
import os
import resource
import select
import signal
import sys
import threading
import traceback
from pathlib import Path

from gait2hip.core.atomic import write_json_atomically
from gait2hip.core.errors import Gait2HipError
from gait2hip.pipeline.status import TrialStatus
from gait2hip.pipeline.tasks import RESULT_FILE, TaskKind, TaskRequest, TaskResult

# The child reads these to die with the process that started it and with the batch.
PARENT_PID_VARIABLE = "GAIT2HIP_TASK_PARENT_PID"
BATCH_PID_VARIABLE = "GAIT2HIP_BATCH_PID"
# A task process runs single-threaded numerics: the batch already puts one task on each core.
SINGLE_THREADED_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

# Linux prctl option: the signal this process gets when the thread that started it ends.
_PR_SET_PDEATHSIG = 1

# The stage an error is recorded under when it does not name its own: a scaling is one stage,
# and a trial's errors before its stages start are input errors.
_FIRST_STAGE = {TaskKind.SCALE: "scale", TaskKind.TRIAL: "inputs"}


def preload_task_modules() -> None:
    """Import what a task runs (OpenSim with it): the seconds a fork server spends once for all its tasks."""
    for module in ("gait2hip.pipeline.opensim_log", "gait2hip.pipeline.scale", "gait2hip.pipeline.trial"):
        importlib.import_module(module)


def run_request(request: TaskRequest) -> TaskResult:
    """Execute a scaling or trial request; return its result (never raises)."""
    # OpenSim loads with these; imported here so that main() has tied this process to its
    # parent before the seconds an import of OpenSim takes.
    from gait2hip.pipeline.scale import scale_subject
    from gait2hip.pipeline.trial import label_trial

    try:
        if request.kind == TaskKind.SCALE:
            scaled = scale_subject(request.subject, request.static_trc, request.out_dir, request.config)
            return TaskResult(kind=request.kind, input_hash=request.input_hash, status=TrialStatus.OK,
                              scaled_model=scaled.scaled_model_path,
                              scale_factors={k: v.tolist() for k, v in scaled.scale_factors.items()},
                              landmark_rms_error_m=scaled.marker_rms_error_m,
                              wall_time_s={"scale": scaled.wall_time_s})
        trial = label_trial(request.subject, request.scaled_model, request.markers, request.grf, request.out_dir,
                            request.config, request.key, provenance={"input_hash": request.input_hash},
                            time_range_s=request.time_range_s)
        return TaskResult(kind=request.kind, input_hash=request.input_hash, status=trial.status,
                          reasons=tuple(trial.reasons), qc=trial.qc, wall_time_s=trial.timings_s,
                          n_frames=trial.n_frames, labels=trial.labels_path)
    except Gait2HipError as error:
        return TaskResult.failure(request.kind, request.input_hash, error.stage or _FIRST_STAGE[request.kind],
                                  str(error))
    except Exception as error:  # noqa: BLE001 - any other failure of one task is recorded, not fatal
        return TaskResult.failure(request.kind, request.input_hash, "unexpected", f"{type(error).__name__}: {error}",
                                  traceback=traceback.format_exc())


def exit_with_parent(expected_parent: str | None) -> None:
    """Be killed when the process that started this one, PID ``expected_parent``, dies (Linux), so no task outlives its batch.

    A batch worker that is killed (by a user, the out-of-memory killer, a Dask nanny)
    cannot stop its child; the kernel does it. ``isolation`` names the parent's PID in the
    environment: if the parent is already gone when this runs, this process exits at once.
    None: no parent to follow.
    """
    if expected_parent is None:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the timeout still bounds the task
        return
    if str(os.getppid()) != expected_parent:
        os._exit(1)


def exit_with_batch(batch_pid: str | None) -> None:
    """Exit at once when the batch process ``batch_pid`` ends (SIGKILL, out of memory); None: no batch to follow.

    Its batch worker (this process's parent) is blocked waiting for this task and would learn
    of the batch's end only afterwards; meanwhile this task would keep writing into a labels
    folder whose lock is free for a resumed batch. A pidfd (Linux ≥ 5.3) is watched, not the
    PID, so a reused PID cannot hide the end.
    """
    if batch_pid is None or not hasattr(os, "pidfd_open"):
        return
    try:
        batch = os.pidfd_open(int(batch_pid))
    except ProcessLookupError:
        os._exit(1)
    except OSError:  # pidfds unsupported here: the parent's death signal and the timeout still bound the task
        return

    def wait_then_exit() -> None:
        select.select([batch], [], [])  # readable once the batch process has ended
        os._exit(1)

    threading.Thread(target=wait_then_exit, name="exit-with-batch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    exit_with_parent(os.environ.get(PARENT_PID_VARIABLE))
    exit_with_batch(os.environ.get(BATCH_PID_VARIABLE))
    argv = sys.argv[1:] if argv is None else argv
    return run_request_file(Path(argv[0]))


def run_request_file(request_path: Path) -> int:
    """Run the request in ``request_path`` in this process and write its ``result.json``; 0 once it could report."""
    from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet  # loads OpenSim

    request = TaskRequest.from_json(json.loads(Path(request_path).read_text()))
    keep_opensim_console_quiet()
    result = run_request(request)
    # Linux reports ru_maxrss in KiB: the peak memory of this task's process.
    result = dataclasses.replace(result, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    write_json_atomically(request.out_dir / RESULT_FILE, result.to_json(request.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
