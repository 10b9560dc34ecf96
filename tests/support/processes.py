"""Watching task processes from a test (Linux ``/proc``)."""

from __future__ import annotations

import time
from pathlib import Path

from gait2hip.pipeline.fork_server import task_processes


def gone_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` has ended (or is a zombie waiting to be reaped) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.01)
    return False


def task_processes_under(path: Path) -> list[int]:
    """PIDs of live task processes whose request is ``path`` or lies below it."""
    path = Path(path).resolve()
    return [pid for pid, request in task_processes() if request == path or request.is_relative_to(path)]
