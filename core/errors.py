"""The project's own exceptions, with messages a gait-lab user can act on.

Raise them where a problem is detected; catch them only where something useful is done
(the batch engine records a failed trial and goes on).
"""

from __future__ import annotations

from pathlib import Path


class Gait2HipError(Exception):
    """Base class of every error gait2hip raises on purpose."""


class ConfigError(Gait2HipError):
    """A configuration file or value is invalid (unknown key, wrong type, out of range)."""


class InputDataError(Gait2HipError):
    """An input file is missing, unreadable or inconsistent.

    Parameters
    ----------
    path
        The offending file (or folder).
    problem
        What is wrong with it, phrased so the user knows what to fix.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class OpenSimToolError(Gait2HipError):
    """An OpenSim tool failed or produced no usable output for one trial.

    Parameters
    ----------
    trial_id
        Which trial (``subject/trial``) was being processed.
    stage
        ``scale``, ``ik``, ``id`` or ``so``.
    detail
        What went wrong.
    log_path
        The per-trial OpenSim log to read for the tool's own messages.
    """

    def __init__(self, trial_id: str, stage: str, detail: str, log_path: str | Path | None = None):
        self.trial_id = trial_id
        self.stage = stage
        self.detail = detail
        self.log_path = Path(log_path) if log_path is not None else None
        where = f" (OpenSim log: {self.log_path})" if self.log_path is not None else ""
        super().__init__(f"trial {trial_id}, stage {stage}: {detail}{where}")
