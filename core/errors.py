"""The project's own exceptions, with messages a gait-lab user can act on.

Raise them where a problem is detected; catch them only where something useful is done
(the batch engine records a failed trial and goes on).
"""

from __future__ import annotations

from pathlib import Path


class Gait2HipError(Exception):
    """Base class of every error gait2hip raises on purpose.

    ``stage`` is the pipeline stage the error stopped (``inputs``, ``scale``, ``ik``, ``id``,
    ``so``, ``labels``), set by whoever knows it: the tool wrappers for their own errors, the
    trial pipeline for the rest; None where no stage applies.
    """

    stage: str | None = None


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


class CheckpointError(Gait2HipError):
    """A file given as a surrogate checkpoint cannot be used as one (missing, damaged, not a
    gait2hip checkpoint, an older format, or holding objects a safe load refuses).

    Parameters
    ----------
    path
        The offending file (or folder).
    problem
        What is wrong with it and, where there is one, what to do about it.
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


class MissingDependencyError(Gait2HipError):
    """A command needs an optional dependency that is not installed (OpenSim for labelling, ...).

    Parameters
    ----------
    module
        The Python module that cannot be imported (``opensim``, ``ezc3d``, ``dask.distributed``).
    extra
        The gait2hip extra that installs it (``lab``, ``dask``).
    needed_for
        What needs it, as the user typed it (``gait2hip label``).
    detail
        Why the import failed when the module is present but broken (None: it is absent).
    """

    def __init__(self, module: str, extra: str, needed_for: str, detail: str | None = None):
        self.module = module
        self.extra = extra
        self.needed_for = needed_for
        self.detail = detail
        why = f"cannot be imported ({detail})" if detail else "is not installed"
        super().__init__(f"{needed_for} needs the Python package '{module}', which {why}; "
                         f'install it with: pip install "gait2hip[{extra}]"')
