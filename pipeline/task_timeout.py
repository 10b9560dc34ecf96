"""The default time limit of one batch task, scaled by the length of its trial.

A task past its limit is stopped and recorded failed (stage ``timeout``), so a hanging OpenSim
tool cannot stall a batch, while a long trial on a slow machine never trips it.
"""

from __future__ import annotations

from pathlib import Path

# The default time limit of one task: a base plus a cost per marker frame of its trial (the
# static trial for a scaling). A full trial costs about 88 ms per frame on one core (IK 3,
# ID 1.5, SO 83 ms: docs/benchmarks.md, benchmarks/bench_pipeline_stages.py), and whole
# trials timed end to end on a busy 2-core machine up to about 0.25 s per frame; 1 s per
# frame is over 10 times the first and 4 times the second, so only a task that has stopped
# progressing reaches it. The base covers what does not grow with the trial: the process
# start, importing OpenSim, loading the model, scaling (seconds each), on a loaded machine.
TIMEOUT_BASE_S = 600.0
TIMEOUT_PER_FRAME_S = 1.0
# TRC files have five header lines before the first frame.
_TRC_HEADER_LINES = 5


def default_task_timeout_s(n_frames: int) -> float:
    """The default time limit (s) of a task whose trial has ``n_frames`` marker frames.

    ``TIMEOUT_BASE_S + TIMEOUT_PER_FRAME_S * n_frames``: 600 s plus 1 s per frame, over 10
    times the measured cost of a full trial (about 88 ms per frame on one core; see the
    constants' comment), so a slow machine never trips it and a hang is stopped.
    """
    return TIMEOUT_BASE_S + TIMEOUT_PER_FRAME_S * max(int(n_frames), 0)


def count_trc_frames(path: Path | None) -> int:
    """Frames of a TRC file (non-blank lines after its header); 0 when there is none or it cannot be read.

    Counted from the text, not through OpenSim: the batch process must not be the one that
    a damaged file stalls or crashes (the task's own process reads and checks it).
    """
    if path is None:
        return 0
    try:
        lines = Path(path).read_bytes().splitlines()
    except OSError:
        return 0
    return sum(1 for line in lines[_TRC_HEADER_LINES:] if line.strip())
