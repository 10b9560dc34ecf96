"""Optional dependencies: the labelling side (OpenSim, ezc3d, Dask) is an extra of gait2hip.

The surrogate side (train, evaluate, predict, export) runs on the core install alone, so a
clinic that only predicts needs PyTorch and not OpenSim. A command that needs an extra
checks for it when it runs and, when it is missing, stops with one line naming the extra to
install (:class:`~gait2hip.core.errors.MissingDependencyError`) instead of a traceback.
"""

from __future__ import annotations

import importlib

from gait2hip.core.errors import MissingDependencyError

# Top-level module name → the extra of pyproject.toml that installs it.
EXTRA_OF_MODULE = {"opensim": "lab", "ezc3d": "lab", "dask": "dask", "distributed": "dask"}


def require(module: str, *, needed_for: str) -> None:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra that installs it.

    Parameters
    ----------
    module
        An optional module (a key of ``EXTRA_OF_MODULE``, or a submodule of one: ``dask.distributed``).
    needed_for
        What needs it, as the user typed it (``gait2hip label``); it starts the message.
    """
    extra = EXTRA_OF_MODULE[module.split(".")[0]]
    try:
        importlib.import_module(module)
    except ImportError as error:
        # Absent (the usual case) needs no detail; a present but broken install does.
        absent = isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == module.split(".")[0]
        raise MissingDependencyError(module, extra, needed_for, None if absent else str(error)) from error


def is_available(module: str) -> bool:
    """Whether ``module`` imports (an optional output, like predict's ``.sto`` copy, is skipped when not)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def as_missing_dependency(error: ImportError, needed_for: str) -> MissingDependencyError | None:
    """The :class:`MissingDependencyError` for a failed import of an optional module, else None.

    The CLI turns such an import failure deep inside a command (``predict --grf`` reading a GRF
    ``.mot`` with OpenSim) into the same one-line hint; any other import error stays a bug.
    """
    top_level = (error.name or "").split(".")[0]
    if not isinstance(error, ModuleNotFoundError) or top_level not in EXTRA_OF_MODULE:
        return None
    return MissingDependencyError(error.name, EXTRA_OF_MODULE[top_level], needed_for)
