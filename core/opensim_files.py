"""OpenSim's text files, read and written through OpenSim's own adapters: markers (TRC) and tables (``.mot``/``.sto``).

Every TRC, ``.mot`` and ``.sto`` that gait2hip reads or writes goes through this module
(``TRCFileAdapter``, ``STOFileAdapter``, ``TimeSeriesTable``), so the format has one owner,
and the GRF column names OpenSim's ``ExternalForce`` expects are spelled here only
(:func:`grf_identifiers`, :func:`grf_column_names`).

Writes are atomic (:func:`gait2hip.core.atomic.write_atomically`) and give the same bytes for
the same data wherever they are written: the TRC adapter records the path it writes to in the
header's first line, and that line names only the final file.

OpenSim, NumPy and pandas are imported by the functions that read or write, so configuration
code (and a command's ``--help``) can import the GRF column names without loading them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gait2hip.core.atomic import write_atomically
from gait2hip.core.errors import InputDataError

if TYPE_CHECKING:
    import numpy as np
    import opensim
    import pandas as pd

SIDES = ("r", "l")
AXES = "xyz"
# OpenSim's GRF convention: the right foot's columns unprefixed, the left foot's with "1_".
_SIDE_PREFIXES = {"r": "", "l": "1_"}
# Metres to the unit a TRC is written in.
_TRC_UNIT_FROM_M = {"mm": 1000.0, "m": 1.0}


@dataclass(frozen=True)
class GRFIdentifiers:
    """One foot's GRF column prefixes in a ``.mot`` (OpenSim ``ExternalForce`` identifiers).

    Each is completed by an axis letter: ``force + "x"`` is the force along x (N), ``point``
    the centre of pressure (m, ground frame), ``torque`` the free moment (N·m).
    """

    force: str
    point: str
    torque: str

    def column_names(self) -> list[str]:
        """The nine columns of this foot: force, point, torque, each × x y z."""
        return [f"{prefix}{axis}" for prefix in (self.force, self.point, self.torque) for axis in AXES]


def grf_identifiers(side: str) -> GRFIdentifiers:
    """The standard GRF identifiers of foot ``side`` (``"r"`` or ``"l"``)."""
    if side not in _SIDE_PREFIXES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    prefix = _SIDE_PREFIXES[side]
    return GRFIdentifiers(force=f"{prefix}ground_force_v", point=f"{prefix}ground_force_p",
                          torque=f"{prefix}ground_torque_")


def grf_column_names() -> list[str]:
    """The 18 standard GRF columns in file order: the right foot's nine, then the left's."""
    return [name for side in SIDES for name in grf_identifiers(side).column_names()]


def grf_columns(force_n: dict[str, np.ndarray], centre_of_pressure_m: dict[str, np.ndarray],
                torque_nm: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Name → ``(n_samples,)`` column of both feet's loads, in :func:`grf_column_names` order.

    Parameters
    ----------
    force_n, centre_of_pressure_m, torque_nm
        ``{"r": (n_samples, 3), "l": (n_samples, 3)}`` force (N), centre of pressure (m) and
        free moment (N·m) of each foot, ground frame.
    """
    columns = {}
    for side in SIDES:
        identifiers = grf_identifiers(side)
        for prefix, values in ((identifiers.force, force_n[side]), (identifiers.point, centre_of_pressure_m[side]),
                               (identifiers.torque, torque_nm[side])):
            for index, axis in enumerate(AXES):
                columns[f"{prefix}{axis}"] = values[:, index]
    return columns


@dataclass(frozen=True)
class TrcContent:
    """A TRC file as stored: positions in the file's unit, header entries as text.

    Attributes
    ----------
    marker_names
        ``n_markers`` names in column order.
    times_s
        ``(n_frames,)`` the file's time column in s.
    positions
        ``(n_frames, n_markers, 3)`` positions in ``metadata["Units"]`` (NaN where missing).
    metadata
        Header entries (``DataRate``, ``Units``, ...) as written.
    """

    marker_names: tuple[str, ...]
    times_s: np.ndarray
    positions: np.ndarray
    metadata: dict[str, str]


def marker_table(marker_names: list[str] | tuple[str, ...], positions: np.ndarray,
                 times_s: np.ndarray) -> "opensim.TimeSeriesTableVec3":
    """An OpenSim marker table of ``(n_frames, n_markers, 3)`` ``positions`` at ``(n_frames,)`` ``times_s``.

    Needs two markers or more: OpenSim packs the ``_1 _2 _3`` columns by guessing the suffixes.
    """
    import numpy as np
    import opensim

    n_frames = positions.shape[0]
    labels = [f"{name}_{axis}" for name in marker_names for axis in (1, 2, 3)]
    matrix = opensim.Matrix.createFromMat(np.ascontiguousarray(positions.reshape(n_frames, -1), dtype=float))
    return opensim.TimeSeriesTable(_floats(times_s), matrix, labels).packVec3()


def write_trc(path: str | Path, marker_names: list[str] | tuple[str, ...], positions_m: np.ndarray,
              times_s: np.ndarray, rate_hz: float, units: str = "mm") -> Path:
    """Write marker trajectories as a TRC with ``opensim.TRCFileAdapter``, atomically.

    Parameters
    ----------
    positions_m
        ``(n_frames, n_markers, 3)`` positions in m (NaN where missing; written as NaN).
    times_s
        ``(n_frames,)`` frame times in s.
    rate_hz
        Frame rate recorded in the header (``DataRate``, ``CameraRate``).
    units
        ``"mm"`` or ``"m"``: the unit written in the file and its header's ``Units``.
    """
    import opensim

    if units not in _TRC_UNIT_FROM_M:
        raise ValueError(f"units must be one of {sorted(_TRC_UNIT_FROM_M)}, got {units!r}")
    path = Path(path)
    n_frames, n_markers, _ = positions_m.shape
    table = marker_table(marker_names, positions_m * _TRC_UNIT_FROM_M[units], times_s)
    for key, value in (("DataRate", f"{rate_hz:g}"), ("CameraRate", f"{rate_hz:g}"), ("NumFrames", str(n_frames)),
                       ("NumMarkers", str(n_markers)), ("Units", units), ("OrigDataRate", f"{rate_hz:g}"),
                       ("OrigDataStartFrame", "1"), ("OrigNumFrames", str(n_frames))):
        table.addTableMetaDataString(key, value)

    def write(temporary: Path) -> None:
        opensim.TRCFileAdapter().write(table, str(temporary))
        _name_only_the_file_in_header(temporary)

    return write_atomically(path, write)


def read_trc(path: str | Path) -> TrcContent:
    """Read a TRC file with ``opensim.TimeSeriesTableVec3``.

    Raises
    ------
    InputDataError
        If the file is missing or OpenSim cannot read it.
    """
    import numpy as np
    import opensim

    path = Path(path)
    if not path.is_file():
        raise InputDataError(path, "marker file (TRC) not found")
    try:
        table = opensim.TimeSeriesTableVec3(str(path))
    except Exception as error:  # OpenSim raises its own RuntimeError subclasses
        raise InputDataError(path, f"not a readable TRC file ({error})") from error
    flat = table.flatten()
    n_frames, n_markers = table.getNumRows(), table.getNumColumns()
    return TrcContent(
        marker_names=tuple(table.getColumnLabels()),
        times_s=np.asarray(flat.getIndependentColumn(), dtype=float),
        positions=flat.getMatrix().to_numpy().reshape(n_frames, n_markers, 3),
        metadata=_string_metadata(table),
    )


# A frame time within this of a time range's end (s) is inside it: tools print times to ~1e-10 s.
TIME_RANGE_TOLERANCE_S = 1e-9


def within(times_s: np.ndarray, time_range_s: tuple[float, float]) -> np.ndarray:
    """``(n,)`` bool: which of ``times_s`` (s) lie in ``time_range_s`` (s), both ends included."""
    import numpy as np

    times_s = np.asarray(times_s, dtype=float)
    return (times_s >= time_range_s[0] - TIME_RANGE_TOLERANCE_S) & (times_s <= time_range_s[1] + TIME_RANGE_TOLERANCE_S)


def check_time_column(path: str | Path, times_s: np.ndarray, *, step_s: float | None = None,
                      grid_tolerance_steps: float = 0.25) -> None:
    """Raise :class:`InputDataError` unless ``times_s`` is finite, strictly increasing and on a uniform grid.

    OpenSim's tools do not check the time column of what they are handed: a NaN time in a
    GRF ``.mot`` (or a damaged byte, read back as NaN) keeps the inverse dynamics tool
    searching forever, so every time column is checked before a tool sees its file.

    Parameters
    ----------
    path
        The file the times come from (named in the error).
    times_s
        ``(n_rows,)`` the file's time column in s.
    step_s
        The expected sample interval (s), e.g. ``1 / DataRate``; None: the file's mean interval.
    grid_tolerance_steps
        How far (in intervals) a time may lie from ``t0 + i * step_s``: exports round their
        time column, which moves times by a fraction of an interval, not more.

    Raises
    ------
    InputDataError
        Naming the file and the first bad row (1-based data row) and its time.
    """
    import numpy as np

    times = np.asarray(times_s, dtype=float)
    if times.size == 0:
        raise InputDataError(path, "the time column is empty")
    not_finite = np.flatnonzero(~np.isfinite(times))
    if not_finite.size:
        row = int(not_finite[0])
        raise InputDataError(path, f"the time column holds {times[row]} at data row {row + 1} "
                                   f"(after {_time_text(times, row - 1)}); every time must be a finite number")
    not_increasing = np.flatnonzero(np.diff(times) <= 0)
    if not_increasing.size:
        row = int(not_increasing[0]) + 1
        raise InputDataError(path, f"time does not increase at data row {row + 1}: {times[row]:.6g} s follows "
                                   f"{times[row - 1]:.6g} s; times must be strictly increasing")
    if times.size < 2:
        return
    step = step_s if step_s is not None else (times[-1] - times[0]) / (times.size - 1)
    off_grid = np.abs(times - (times[0] + np.arange(times.size) * step))
    beyond = np.flatnonzero(off_grid > grid_tolerance_steps * step)
    if beyond.size:
        row = int(beyond[0])
        raise InputDataError(path, f"times are irregular: data row {row + 1} is at {times[row]:.6g} s, "
                                   f"{off_grid[row] * 1e3:.3g} ms off the uniform {1 / step:.6g} Hz grid "
                                   f"(more than {grid_tolerance_steps:g} of an interval); resample to a constant rate")


def _time_text(times: np.ndarray, row: int) -> str:
    return f"{times[row]:.6g} s at row {row + 1}" if row >= 0 else "nothing: it is the first row"


def write_mot(path: str | Path, columns: dict[str, np.ndarray], times_s: np.ndarray, in_degrees: bool) -> Path:
    """Write named ``(n,)`` columns at ``(n,)`` ``times_s`` as an OpenSim ``.mot``/``.sto``, atomically.

    ``in_degrees`` sets the header's ``inDegrees`` (whether rotations are in degrees).
    """
    import numpy as np
    import opensim

    matrix = opensim.Matrix.createFromMat(np.ascontiguousarray(np.column_stack(list(columns.values())), dtype=float))
    table = opensim.TimeSeriesTable(_floats(times_s), matrix, list(columns))
    table.addTableMetaDataString("inDegrees", "yes" if in_degrees else "no")
    return write_atomically(Path(path), lambda temporary: opensim.STOFileAdapter().write(table, str(temporary)))


def read_opensim_table(path: str | Path) -> "pd.DataFrame":
    """Return a ``.mot``/``.sto`` file as a DataFrame with a ``time`` column first.

    Values are as stored (the file's units); :func:`table_in_degrees` reads the ``inDegrees``
    header where it matters.

    Raises
    ------
    InputDataError
        If the file is missing, is not a storage file, or OpenSim cannot read it.
    """
    import numpy as np
    import pandas as pd

    table = _read_storage(path)
    frame = pd.DataFrame(table.getMatrix().to_numpy(), columns=list(table.getColumnLabels()))
    frame.insert(0, "time", np.asarray(table.getIndependentColumn(), dtype=float))
    return frame


def table_in_degrees(path: str | Path) -> bool:
    """Whether the ``.mot``/``.sto`` header says rotations are in degrees (``inDegrees=yes``)."""
    table = _read_storage(path)
    if not table.hasTableMetaDataKey("inDegrees"):
        return False
    return table.getTableMetaDataAsString("inDegrees").strip().lower() == "yes"


def check_opensim_header(path: str | Path) -> None:
    """Raise :class:`InputDataError` unless ``path`` has the ``endheader`` line of a ``.mot``/``.sto``.

    OpenSim's STO reader does not return on a file without ``endheader`` (it keeps scanning),
    so a file that is not a storage file at all must be rejected before it is handed over.
    """
    with open(path, "rb") as stream:
        for line in stream:
            if line.strip().lower() == b"endheader":
                return
    raise InputDataError(path, "not an OpenSim .mot/.sto file: no 'endheader' line")


def _read_storage(path: str | Path) -> "opensim.TimeSeriesTable":
    import opensim

    path = Path(path)
    if not path.is_file():
        raise InputDataError(path, "OpenSim table not found")
    check_opensim_header(path)
    try:
        return opensim.TimeSeriesTable(str(path))
    except Exception as error:  # OpenSim raises RuntimeError subclasses
        raise InputDataError(path, f"not a readable OpenSim .mot/.sto file ({error})") from error


def _name_only_the_file_in_header(path: Path) -> None:
    """Make the TRC header's first line (``PathFileType 4 (X/Y/Z) <path>``) name only the file.

    The adapter writes the full path it was given; the file name alone keeps the bytes the
    same wherever the file is written (a temporary folder, another checkout).
    """
    content = path.read_bytes()
    first_line, newline, rest = content.partition(b"\n")
    fields = first_line.split(b"\t")
    path.write_bytes(b"\t".join(fields[:3] + [path.name.encode()]) + newline + rest)


def _string_metadata(table: "opensim.TimeSeriesTableVec3") -> dict[str, str]:
    metadata = {}
    for key in table.getTableMetaDataKeys():
        try:
            metadata[key] = table.getTableMetaDataAsString(key)
        except RuntimeError:  # an entry that is not text (OpenSim keeps some as other types)
            continue
    return metadata


def _floats(values: np.ndarray) -> list[float]:
    """A plain list for OpenSim's ``std::vector<double>`` arguments.

    Python lists, not ``opensim.StdVectorDouble``: once ezc3d's SWIG module has registered
    its own ``std::vector`` proxies in the same process, OpenSim no longer accepts its own
    ``StdVectorDouble``/``StdVectorString`` objects, while plain lists always convert.
    """
    import numpy as np

    return [float(value) for value in np.asarray(values, dtype=float)]
