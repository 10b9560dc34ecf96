"""Write markers (TRC), ground reactions (.mot) and YAML with OpenSim's adapters, atomically.

Single files go through :func:`gait2hip.core.atomic.write_atomically` (temporary file in the
same folder, then ``os.replace``). A trial folder is staged whole in a hidden sibling
folder and renamed into place, so a reader sees all of a trial's files or none of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import opensim
import yaml

from gait2hip.ingest.force_plates import FootLoads
from gait2hip.core.atomic import write_atomically
from gait2hip.core.errors import InputDataError

_M_TO_UNIT = {"mm": 1000.0, "m": 1.0}
# OpenSim's own GRF column names: right foot unprefixed, left foot with "1_".
FORCE_SET_PREFIXES = {"r": "", "l": "1_"}


def write_trc(path: Path, marker_names: tuple[str, ...], positions_m: np.ndarray, times_s: np.ndarray,
              rate_hz: float, units: str = "mm") -> Path:
    """Write marker trajectories as a TRC with ``opensim.TRCFileAdapter``, atomically.

    Parameters
    ----------
    positions_m
        ``(n_frames, n_markers, 3)`` positions in m (NaN where missing; written as NaN).
    units
        ``"mm"`` or ``"m"``: the unit written in the file (and its header's ``Units``).
    """
    n_frames, n_markers, _ = positions_m.shape
    labels = [f"{name}_{axis}" for name in marker_names for axis in (1, 2, 3)]
    matrix = opensim.Matrix.createFromMat(positions_m.reshape(n_frames, n_markers * 3) * _M_TO_UNIT[units])
    flat = opensim.TimeSeriesTable(_floats(times_s), matrix, labels)
    table = flat.packVec3()  # guesses the _1 _2 _3 suffixes (needs two markers or more)
    for key, value in (("DataRate", f"{rate_hz:g}"), ("CameraRate", f"{rate_hz:g}"), ("NumFrames", str(n_frames)),
                       ("NumMarkers", str(n_markers)), ("Units", units), ("OrigDataRate", f"{rate_hz:g}"),
                       ("OrigDataStartFrame", "1"), ("OrigNumFrames", str(n_frames))):
        table.addTableMetaDataString(key, value)
    return write_atomically(path, lambda temporary: opensim.TRCFileAdapter().write(table, str(temporary)))


def grf_column_names() -> list[str]:
    """The 18 GRF columns in OpenSim's usual order (both feet's force and point, then torques)."""
    names = []
    for prefix in FORCE_SET_PREFIXES.values():
        names += [f"{prefix}ground_force_v{axis}" for axis in "xyz"] + [f"{prefix}ground_force_p{axis}" for axis in "xyz"]
    for prefix in FORCE_SET_PREFIXES.values():
        names += [f"{prefix}ground_torque_{axis}" for axis in "xyz"]
    return names


def write_grf_mot(path: Path, times_s: np.ndarray, feet: dict[str, FootLoads]) -> Path:
    """Write both feet's force sets as a ``.mot`` with ``opensim.STOFileAdapter``, atomically.

    Columns: ``ground_force_v[xyz]`` (N), ``ground_force_p[xyz]`` (COP, m),
    ``ground_torque_[xyz]`` (N·m) for the right foot; the same with ``1_`` for the left.
    """
    columns = {}
    for side, prefix in FORCE_SET_PREFIXES.items():
        for index, axis in enumerate("xyz"):
            columns[f"{prefix}ground_force_v{axis}"] = feet[side].force_n[:, index]
            columns[f"{prefix}ground_force_p{axis}"] = feet[side].cop_m[:, index]
            columns[f"{prefix}ground_torque_{axis}"] = feet[side].torque_nm[:, index]
    names = grf_column_names()
    matrix = opensim.Matrix.createFromMat(np.column_stack([columns[name] for name in names]))
    table = opensim.TimeSeriesTable(_floats(times_s), matrix, names)
    table.addTableMetaDataString("inDegrees", "no")
    return write_atomically(path, lambda temporary: opensim.STOFileAdapter().write(table, str(temporary)))


def _floats(values: np.ndarray) -> list[float]:
    """A plain list for OpenSim's ``std::vector<double>`` arguments.

    Python lists, not ``opensim.StdVectorDouble``: once ezc3d's SWIG module has registered
    its own ``std::vector`` proxies in the same process, OpenSim no longer accepts its own
    ``StdVectorDouble``/``StdVectorString`` objects, while plain lists always convert.
    """
    return [float(value) for value in np.asarray(values, dtype=float)]


def write_yaml(path: Path, content: dict[str, Any]) -> Path:
    """Write ``content`` as block-style YAML (keys in the given order), atomically."""
    text = yaml.safe_dump(content, sort_keys=False, default_flow_style=None)
    return write_atomically(path, lambda temporary: temporary.write_text(text))


@contextlib.contextmanager
def staged_folder(final_dir: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a hidden sibling folder to write into; on success it replaces ``final_dir``.

    On any exception the staged folder (and any parent folder this call created) is removed
    and ``final_dir`` is left as it was.

    Raises
    ------
    InputDataError
        If ``final_dir`` exists and ``overwrite`` is False.
    """
    final_dir = Path(final_dir)
    if final_dir.exists() and not overwrite:
        raise InputDataError(final_dir, "already exists; pass --overwrite to replace it")
    created = [folder for folder in (final_dir.parent, *final_dir.parent.parents) if not folder.exists()]
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.", suffix=".partial", dir=final_dir.parent))
    succeeded = False
    try:
        yield staging
        if final_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.", suffix=".old", dir=final_dir.parent))
            os.replace(final_dir, retired / final_dir.name)
            os.replace(staging, final_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, final_dir)
        succeeded = True
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        if not succeeded:
            for folder in created:  # deepest first: leave no empty folders behind
                with contextlib.suppress(OSError):
                    folder.rmdir()
