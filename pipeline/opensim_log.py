"""Route OpenSim's chatty output to per-trial log files, keeping the console for progress.

Each stage gets its own pair of files in the trial's ``logs/`` folder: OpenSim's messages go
to ``<stage>_opensim.log`` through ``opensim.Logger``'s file sink; output that bypasses the
logger (the optimizer's banner, Simbody's messages, and the logger's console copy) is
captured at the file-descriptor level into ``<stage>_native.log``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import opensim

from gait2hip.core.errors import OpenSimToolError


def keep_opensim_console_quiet() -> None:
    """Show only OpenSim's warnings and errors on the console, and write no ``opensim.log``.

    Called once by each command (and worker process) before it runs OpenSim; a stage's own
    messages still reach its trial's log through :func:`opensim_output_to`.
    """
    opensim.Logger.removeFileSink()
    opensim.Logger.setLevelString("warn")


@contextlib.contextmanager
def opensim_output_to(log_dir: Path, stage: str) -> Iterator[Path]:
    """Send OpenSim output to ``log_dir/<stage>_opensim.log`` for the duration of the block.

    Yields that log's path (new, empty). The process's stdout and stderr file descriptors are
    redirected to ``log_dir/<stage>_native.log`` and restored afterwards, even on error.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{stage}_opensim.log"
    native_path = log_dir / f"{stage}_native.log"
    log_path.unlink(missing_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = (os.dup(1), os.dup(2))
    native = open(native_path, "w")
    previous_level = opensim.Logger.getLevelString()
    try:
        os.dup2(native.fileno(), 1)
        os.dup2(native.fileno(), 2)
        opensim.Logger.removeFileSink()
        opensim.Logger.addFileSink(str(log_path))
        opensim.Logger.setLevelString("Info")
        yield log_path
    finally:
        opensim.Logger.removeFileSink()
        opensim.Logger.setLevelString(previous_level)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        os.close(saved_fds[0])
        os.close(saved_fds[1])
        native.close()


def run_tool_from_setup(load_tool: Callable[[str], object], setup_path: Path, expected_output: Path, *,
                        trial_id: str, stage: str, log_dir: Path) -> Path:
    """Load an OpenSim tool from its printed setup XML, run it with its output logged, check it.

    Running the tool loaded back from the XML (not the in-memory object) makes the saved setup
    exactly what ran. Returns the stage's log path.

    Raises
    ------
    OpenSimToolError
        If the tool raises, reports failure, or does not write ``expected_output``.
    """
    with opensim_output_to(log_dir, stage) as log_path:
        try:
            succeeded = load_tool(str(setup_path)).run()
        except Exception as error:  # OpenSim raises its own RuntimeError subclasses
            raise OpenSimToolError(trial_id, stage, str(error), log_path) from error
    if not succeeded or not Path(expected_output).is_file():
        raise OpenSimToolError(trial_id, stage, f"the tool wrote no {Path(expected_output).name}", log_path)
    return log_path
