"""Read OpenSim ``.mot``/``.sto`` results into pandas through OpenSim's own adapter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opensim
import pandas as pd

from gait2hip.core.atomic import write_atomically
from gait2hip.core.errors import InputDataError


def check_opensim_header(path: Path) -> None:
    """Raise :class:`InputDataError` unless ``path`` has the ``endheader`` line of a ``.mot``/``.sto``.

    OpenSim's STO reader does not return on a file without ``endheader`` (it keeps scanning),
    so a file that is not a storage file at all must be rejected before it is handed over.
    """
    with open(path, "rb") as stream:
        for line in stream:
            if line.strip().lower() == b"endheader":
                return
    raise InputDataError(path, "not an OpenSim .mot/.sto file: no 'endheader' line")


def read_opensim_table(path: str | Path) -> pd.DataFrame:
    """Return a ``.mot``/``.sto`` file as a DataFrame with a ``time`` column first.

    Values are as stored (the file's units); read the ``inDegrees`` header yourself where it
    matters (see :func:`table_in_degrees`).
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(path, "OpenSim table not found")
    check_opensim_header(path)
    try:
        table = opensim.TimeSeriesTable(str(path))
    except Exception as error:  # OpenSim raises RuntimeError subclasses
        raise InputDataError(path, f"not a readable OpenSim .mot/.sto file ({error})") from error
    frame = pd.DataFrame(table.getMatrix().to_numpy(), columns=list(table.getColumnLabels()))
    frame.insert(0, "time", np.asarray(table.getIndependentColumn(), dtype=float))
    return frame


def table_in_degrees(path: str | Path) -> bool:
    """Whether the ``.mot``/``.sto`` header says rotations are in degrees (``inDegrees=yes``)."""
    table = opensim.TimeSeriesTable(str(path))
    if not table.hasTableMetaDataKey("inDegrees"):
        return False
    return table.getTableMetaDataAsString("inDegrees").strip().lower() == "yes"


def write_mot(path: Path, columns: dict[str, np.ndarray], times_s: np.ndarray, in_degrees: bool) -> Path:
    """Write named ``(n,)`` columns as an OpenSim ``.mot`` (``inDegrees`` set), atomically."""
    matrix = opensim.Matrix.createFromMat(np.ascontiguousarray(np.column_stack(list(columns.values()))))
    table = opensim.TimeSeriesTable(times_s.tolist(), matrix, list(columns))
    table.addTableMetaDataString("inDegrees", "yes" if in_degrees else "no")
    return write_atomically(path, lambda temporary: opensim.STOFileAdapter().write(table, str(temporary)))
