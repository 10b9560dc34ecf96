"""Read a C3D file with ezc3d: markers in m and force plates in N, N·m and m, lab axes.

Every problem found is an :class:`~pipeline.errors.InputDataError` naming the file: a
truncated or corrupt file, rates that disagree, plate parameters that point past the
analog channels, units that cannot be told apart. ezc3d reads a truncated file without
complaint (it keeps the frames it found), so the file's size and frame count are checked
against its own header here.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import ezc3d
import numpy as np

from gait2hip.core.errors import InputDataError

logger = logging.getLogger(__name__)

_LENGTH_TO_M = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}
_MOMENT_UNITS = {"nmm": "mm", "n.mm": "mm", "n*mm": "mm", "n mm": "mm", "ncm": "cm", "nm": "m", "n.m": "m", "n*m": "m"}
_MIPS_PROCESSOR = 86  # big-endian C3D files; Intel (84) and DEC (85) are little-endian
_RATE_TOLERANCE = 1e-3
# PROCESSING:Height carries no unit: Vicon writes mm (e.g. 1225), some tools m. A standing
# height above this many units cannot be in m, and one below it cannot be in mm.
_HEIGHT_MM_ABOVE = 3.0


@dataclass(frozen=True)
class PlateRecording:
    """One force platform as measured, in the lab's axes.

    Attributes
    ----------
    number
        1-based plate number (order of ``FORCE_PLATFORM``).
    force_n
        ``(n_samples, 3)`` force computed by ezc3d from the plate's channels (N): with the
        channel convention of lab systems (Vicon, Qualisys, OpenSim's test files), the ground's
        reaction on the subject, upward under load.
    moment_nm
        ``(n_samples, 3)`` moment of that force about ``centre_m`` (N·m).
    centre_m
        ``(3,)`` centre of the plate's working surface (mean of its corners, m).
    corners_m
        ``(4, 3)`` surface corners (m) as in ``FORCE_PLATFORM:CORNERS``.
    """

    number: int
    force_n: np.ndarray
    moment_nm: np.ndarray
    centre_m: np.ndarray
    corners_m: np.ndarray

    @property
    def normal(self) -> np.ndarray:
        """``(3,)`` unit normal of the surface (the plate's own z axis, into the plate by C3D convention)."""
        axis_x = self.corners_m[0] - self.corners_m[1]
        axis_y = self.corners_m[0] - self.corners_m[3]
        normal = np.cross(axis_x, axis_y)
        return normal / np.linalg.norm(normal)


@dataclass(frozen=True)
class C3DRecording:
    """Markers and force plates of one C3D file, lab axes, SI units.

    Attributes
    ----------
    marker_positions_m
        ``(n_frames, n_markers, 3)`` positions in m; NaN where a marker is missing.
    marker_names
        ``n_markers`` point labels as in the file.
    marker_rate_hz, analog_rate_hz
        Sampling rates (Hz); ``analog_rate_hz`` is an integer multiple of ``marker_rate_hz``.
    start_time_s
        Time of the first frame (``first_frame / rate``), so times match the lab software's.
    plates
        The force platforms used (empty when the file has none).
    subject_mass_kg, subject_height_m
        ``PROCESSING:Bodymass`` (kg) and ``PROCESSING:Height`` (mm or m in the file, m here)
        when the file has them (positive), else None.
    subject_name
        ``SUBJECTS:NAMES`` (first entry) when present, else None.
    """

    source_path: Path
    marker_positions_m: np.ndarray
    marker_names: tuple[str, ...]
    marker_rate_hz: float
    analog_rate_hz: float
    start_time_s: float
    plates: tuple[PlateRecording, ...]
    subject_mass_kg: float | None = None
    subject_height_m: float | None = None
    subject_name: str | None = None

    @property
    def marker_times_s(self) -> np.ndarray:
        """``(n_frames,)`` frame times in s."""
        return self.start_time_s + np.arange(self.marker_positions_m.shape[0]) / self.marker_rate_hz

    @property
    def analog_times_s(self) -> np.ndarray:
        """``(n_samples,)`` analog sample times in s (empty without plates)."""
        n_samples = self.plates[0].force_n.shape[0] if self.plates else 0
        return self.start_time_s + np.arange(n_samples) / self.analog_rate_hz


def read_c3d(path: str | Path, *, ignore_plates: tuple[int, ...] = ()) -> C3DRecording:
    """Read markers and force plates of a C3D file.

    Parameters
    ----------
    path
        The C3D file.
    ignore_plates
        1-based plate numbers to leave out.

    Raises
    ------
    InputDataError
        If the file is missing, not a C3D, truncated, has inconsistent rates or units, or
        force-plate parameters that do not match its analog channels.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(path, "C3D file not found")
    header = _read_raw_header(path)
    c3d = _open(path, extract_plates=False)
    parameters = c3d["parameters"]
    points = c3d["data"]["points"]
    analogs = c3d["data"]["analogs"]
    marker_rate_hz, analog_rate_hz = _check_rates(path, header, c3d)  # first: wrong rates also misalign the frames
    _check_size_and_frames(path, header, points.shape[2], float(parameters["POINT"]["SCALE"]["value"][0]))
    if points.shape[2] < 2:
        raise InputDataError(path, f"holds {points.shape[2]} frame(s); at least 2 are needed")
    length_to_m = _length_factor(path, parameters["POINT"]["UNITS"]["value"], "POINT:UNITS")
    positions = np.transpose(points[:3], (2, 1, 0)) * length_to_m  # (3, n_markers, n_frames) → (n_frames, n_markers, 3)
    # Some systems write missing markers as exact zeros instead of a negative residual.
    missing = np.isnan(positions).any(axis=2) | (positions == 0.0).all(axis=2)
    positions[missing] = np.nan
    names = _point_labels(parameters)
    if len(names) != positions.shape[1]:
        raise InputDataError(path, f"POINT:LABELS names {len(names)} markers but the data hold {positions.shape[1]}")
    plates = _read_plates(path, c3d, analogs.shape[1], length_to_m, set(ignore_plates))
    return C3DRecording(
        source_path=path,
        marker_positions_m=positions,
        marker_names=names,
        marker_rate_hz=marker_rate_hz,
        analog_rate_hz=analog_rate_hz,
        start_time_s=c3d["header"]["points"]["first_frame"] / marker_rate_hz,
        plates=plates,
        **_subject_parameters(parameters),
    )


def _subject_parameters(parameters) -> dict:
    """Body mass (kg), height (m) and subject name from ``PROCESSING`` and ``SUBJECTS``, where present."""

    def first_number(group: str, name: str) -> float | None:
        values = np.asarray(parameters.get(group, {}).get(name, {}).get("value", []), dtype=object).ravel()
        try:
            value = float(values[0]) if values.size else float("nan")
        except (TypeError, ValueError):
            return None
        return value if np.isfinite(value) and value > 0 else None

    height = first_number("PROCESSING", "Height")
    if height is not None and height > _HEIGHT_MM_ABOVE:
        height /= 1000.0
    names = list(parameters.get("SUBJECTS", {}).get("NAMES", {}).get("value", []))
    name = str(names[0]).strip() if names and str(names[0]).strip() else None
    return {"subject_mass_kg": first_number("PROCESSING", "Bodymass"), "subject_height_m": height,
            "subject_name": name}


def _open(path: Path, *, extract_plates: bool) -> ezc3d.c3d:
    try:
        return ezc3d.c3d(str(path), extract_forceplat_data=extract_plates)
    except (OSError, RuntimeError, ValueError, IndexError) as error:
        what = "force platform data could not be computed" if extract_plates else "not a readable C3D file"
        raise InputDataError(path, f"{what} ({error})") from error


def _read_raw_header(path: Path) -> dict[str, float]:
    """The C3D header words ezc3d does not expose unmodified (frame range, rates, data start)."""
    with path.open("rb") as handle:
        head = handle.read(512)
        if len(head) < 512:
            raise InputDataError(path, f"is {len(head)} bytes long; a C3D file has a 512-byte header at least (truncated?)")
        if head[1] != 0x50 or head[0] < 2:
            raise InputDataError(path, "not a C3D file (its header lacks the C3D key byte 0x50 and parameter block)")
        handle.seek((head[0] - 1) * 512 + 3)
        processor = handle.read(1)
    endian = ">" if processor and processor[0] == _MIPS_PROCESSOR else "<"
    n_points, analog_per_frame_total, first_frame, last_frame = struct.unpack(endian + "4H", head[2:10])
    data_start_block, analog_samples_per_frame = struct.unpack(endian + "2H", head[16:20])
    frame_rate_hz = struct.unpack(endian + "f", head[20:24])[0] if processor and processor[0] != 85 else float("nan")
    return {"n_points": n_points, "analog_total": analog_per_frame_total, "first_frame": first_frame,
            "last_frame": last_frame, "data_start_block": data_start_block,
            "analog_samples_per_frame": analog_samples_per_frame, "frame_rate_hz": frame_rate_hz}


def _check_size_and_frames(path: Path, header: dict[str, float], n_frames_read: int, point_scale: float) -> None:
    if header["last_frame"] == 0xFFFF:  # long trials store the frame count elsewhere; skip this check
        return
    n_frames = int(header["last_frame"]) - int(header["first_frame"]) + 1
    bytes_per_value = 4 if point_scale < 0 else 2
    frame_bytes = (header["n_points"] * 4 + header["analog_total"]) * bytes_per_value
    expected_bytes = (header["data_start_block"] - 1) * 512 + n_frames * frame_bytes
    size = path.stat().st_size
    if size < expected_bytes or n_frames_read < n_frames:
        raise InputDataError(path, f"truncated: the header announces {n_frames} frames ({expected_bytes} bytes) but the "
                                   f"file holds {size} bytes ({n_frames_read} complete frames); export it again")


def _check_rates(path: Path, header: dict[str, float], c3d: ezc3d.c3d) -> tuple[float, float]:
    parameters = c3d["parameters"]
    point_rate_hz = float(parameters["POINT"]["RATE"]["value"][0])
    if not point_rate_hz > 0:
        raise InputDataError(path, f"POINT:RATE is {point_rate_hz}; the marker rate must be positive")
    header_rate_hz = header["frame_rate_hz"]
    if np.isfinite(header_rate_hz) and abs(header_rate_hz - point_rate_hz) > _RATE_TOLERANCE * point_rate_hz:
        raise InputDataError(path, f"inconsistent rates: the header says {header_rate_hz:g} Hz, POINT:RATE {point_rate_hz:g} Hz")
    n_channels = c3d["data"]["analogs"].shape[1]
    if n_channels == 0:
        return point_rate_hz, 0.0
    analog_rate_hz = float(parameters["ANALOG"]["RATE"]["value"][0])
    samples_per_frame = int(header["analog_samples_per_frame"])
    if samples_per_frame < 1 or abs(analog_rate_hz - samples_per_frame * point_rate_hz) > _RATE_TOLERANCE * analog_rate_hz:
        raise InputDataError(path, f"inconsistent rates: ANALOG:RATE is {analog_rate_hz:g} Hz but the header stores "
                                   f"{samples_per_frame} analog sample(s) per {point_rate_hz:g} Hz frame "
                                   f"({samples_per_frame * point_rate_hz:g} Hz)")
    if header["analog_total"] != samples_per_frame * n_channels:
        raise InputDataError(path, f"the header stores {header['analog_total']} analog values per frame, not "
                                   f"{samples_per_frame} samples × {n_channels} channels (corrupt header)")
    return point_rate_hz, analog_rate_hz


def _length_factor(path: Path, units: list[str], parameter: str) -> float:
    unit = (units[0] if units else "").strip().lower()
    if unit not in _LENGTH_TO_M:
        raise InputDataError(path, f"unknown length unit {unit!r} in {parameter} (expected mm, cm or m)")
    return _LENGTH_TO_M[unit]


def _point_labels(parameters) -> tuple[str, ...]:
    labels = list(parameters["POINT"]["LABELS"]["value"])
    index = 2
    while f"LABELS{index}" in parameters["POINT"]:
        labels += list(parameters["POINT"][f"LABELS{index}"]["value"])
        index += 1
    return tuple(label.strip() for label in labels)


def _read_plates(path: Path, c3d: ezc3d.c3d, n_channels: int, length_to_m: float,
                 ignore: set[int]) -> tuple[PlateRecording, ...]:
    group = c3d["parameters"].get("FORCE_PLATFORM", {})
    n_plates = int(group["USED"]["value"][0]) if "USED" in group and len(group["USED"]["value"]) else 0
    unknown = sorted(number for number in ignore if not 1 <= number <= n_plates)
    if unknown:
        raise InputDataError(path, f"ignore_plates (--ignore-plates) {', '.join(map(str, unknown))}: the file has "
                                   f"{n_plates} force plate(s)" + (f", numbered 1 to {n_plates}" if n_plates else ""))
    if n_plates == 0:
        return ()
    _check_plate_parameters(path, group, n_plates, n_channels, c3d["parameters"]["ANALOG"], length_to_m)
    full = _open(path, extract_plates=True)
    plates = []
    for index, platform in enumerate(full["data"]["platform"]):
        if index + 1 in ignore:
            continue
        if platform["unit_force"].strip().upper() != "N":
            raise InputDataError(path, f"plate {index + 1}: force unit {platform['unit_force']!r} (only N is supported)")
        force = platform["force"].T.copy()
        moment = platform["moment"].T * length_to_m  # N·(position unit) → N·m
        corners = platform["corners"].T * length_to_m
        if not (np.isfinite(force).all() and np.isfinite(moment).all()):
            raise InputDataError(path, f"plate {index + 1}: force or moment holds NaN or infinite values")
        plates.append(PlateRecording(index + 1, force, moment, corners.mean(axis=0), corners))
    logger.debug("%s: %d force plate(s) read", path.name, len(plates))
    return tuple(plates)


def _check_plate_parameters(path: Path, group, n_plates: int, n_channels: int, analog_group, length_to_m: float) -> None:
    for key in ("TYPE", "CORNERS", "ORIGIN", "CHANNEL"):
        if key not in group or np.size(group[key]["value"]) == 0:
            raise InputDataError(path, f"FORCE_PLATFORM:USED is {n_plates} but FORCE_PLATFORM:{key} is missing")
    types = np.asarray(group["TYPE"]["value"]).ravel()
    channels = np.asarray(group["CHANNEL"]["value"])
    channels = channels.reshape(channels.shape[0], -1)
    if len(types) < n_plates or channels.shape[1] < n_plates or np.size(group["CORNERS"]["value"]) < 12 * n_plates:
        raise InputDataError(path, f"FORCE_PLATFORM:USED is {n_plates} but TYPE, CORNERS or CHANNEL describe fewer plates")
    units = [unit.strip().lower() for unit in analog_group["UNITS"]["value"]] if "UNITS" in analog_group else []
    position_unit = next(name for name, factor in _LENGTH_TO_M.items() if factor == length_to_m)
    for plate in range(n_plates):
        if types[plate] not in (1, 2, 3, 4):
            raise InputDataError(path, f"plate {plate + 1} has FORCE_PLATFORM:TYPE {types[plate]}; types 1-4 are supported")
        used = channels[: 8 if types[plate] == 3 else 6, plate]
        beyond = [int(channel) for channel in used if not 1 <= channel <= n_channels]
        if beyond:
            raise InputDataError(path, f"plate {plate + 1} reads analog channel(s) {beyond} but the file holds "
                                       f"{n_channels} analog channel(s): missing force-plate channels")
        if types[plate] in (2, 4) and len(units) == n_channels:
            for channel in used[3:6]:
                unit = units[int(channel) - 1]
                if unit in _MOMENT_UNITS and _MOMENT_UNITS[unit] != position_unit:
                    raise InputDataError(path, f"plate {plate + 1}: moment channel {int(channel)} is in {unit!r} but "
                                               f"positions are in {position_unit}; ezc3d needs N·{position_unit}")
