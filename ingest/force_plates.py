"""Force-plate signals → ground reactions: filter, threshold, centre of pressure, merge.

All vectors here are in OpenSim axes (Y up). A plate's reaction is the force and moment
the ground exerts on the subject, which is what OpenSim's external loads expect. Lab systems
write the plate channels so that ezc3d's force is that reaction already (upward under a
standing subject: the vertical channel reads negative along the plate's downward z); a plate
whose channels carry the subject's action instead (downward) is negated, with a warning. The
centre of pressure (COP) is the point of the plate's surface about which the reaction's
moment has no horizontal part; what remains is the free moment, a torque about the vertical.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from gait2hip.ingest.axes import LabAxes
from gait2hip.ingest.c3d_reader import PlateRecording
from gait2hip.core.errors import InputDataError

logger = logging.getLogger(__name__)

_VERTICAL = np.array([0.0, 1.0, 0.0])
# Samples loaded above this fraction of a plate's peak decide the sign of its channels.
_SIGN_FRACTION_OF_PEAK = 0.2


@dataclass(frozen=True)
class PlateLoads:
    """One plate's ground reaction on the subject, OpenSim axes, zero where unloaded.

    Attributes
    ----------
    force_n
        ``(n_samples, 3)`` reaction force (N).
    moment_nm
        ``(n_samples, 3)`` reaction moment about ``centre_m`` (N·m).
    centre_m
        ``(3,)`` centre of the plate surface (m).
    normal
        ``(3,)`` unit normal of the surface, pointing up.
    loaded
        ``(n_samples,)`` True where the vertical reaction exceeds the load threshold.
    """

    number: int
    force_n: np.ndarray
    moment_nm: np.ndarray
    centre_m: np.ndarray
    normal: np.ndarray
    loaded: np.ndarray


@dataclass(frozen=True)
class FootLoads:
    """One foot's ground reaction, merged over the plates it stood on (OpenSim axes).

    Attributes
    ----------
    force_n
        ``(n_samples, 3)`` total reaction force (N).
    cop_m
        ``(n_samples, 3)`` centre of pressure (m); zero where the foot is unloaded.
    torque_nm
        ``(n_samples, 3)`` free moment about the COP (N·m), along the vertical.
    """

    force_n: np.ndarray
    cop_m: np.ndarray
    torque_nm: np.ndarray


def plate_reaction(plate: PlateRecording, axes: LabAxes, *, rate_hz: float, cutoff_hz: float | None, order: int,
                   threshold_n: float, source_path: Path) -> PlateLoads:
    """Rotate, low-pass filter and threshold one plate's signals (negated if they push downwards).

    The filter is a Butterworth low-pass of ``order`` run forwards and backwards (zero lag)
    on the force and the moment about the plate centre, before the COP is computed (a COP
    computed first and filtered afterwards is dominated by the noise of the light-load
    samples). Samples whose vertical reaction is below ``threshold_n`` are set to zero.

    Raises
    ------
    InputDataError
        If the cut-off is not below the Nyquist frequency, or the record is too short to filter.
    """
    force = axes.apply(plate.force_n)
    moment = axes.apply(plate.moment_nm)
    normal = axes.apply(plate.normal)
    normal = normal if normal[1] > 0 else -normal
    if cutoff_hz:
        filtered = _low_pass(np.hstack([force, moment]), rate_hz, cutoff_hz, order, source_path)
        force, moment = filtered[:, :3], filtered[:, 3:]
    magnitude = np.linalg.norm(force, axis=1)
    # The sign is read off the stance loads only: an unloaded plate's zero offset (tens of N,
    # either sign; OpenSim's walking2.c3d has -20 to -27 N on plate 2) spans far more samples
    # than the stances and would outvote them, but stays under a fifth of the peak load.
    strong = magnitude > max(threshold_n, _SIGN_FRACTION_OF_PEAK * float(magnitude.max(initial=0.0)))
    if strong.any() and np.median(force[strong, 1]) < 0:
        # The channels carry the subject's action on the plate (or the corners are listed the
        # other way round); force and moment are consistent up to their common sign, which
        # the subject's weight fixes.
        logger.warning("%s: plate %d pulls the subject downwards as read (its channels carry the force on the "
                       "plate, not the ground reaction); its sign is flipped (check the plate's channel signs and "
                       "FORCE_PLATFORM:CORNERS)", source_path.name, plate.number)
        force, moment = -force, -moment
    loaded = force[:, 1] > threshold_n
    force = np.where(loaded[:, None], force, 0.0)
    moment = np.where(loaded[:, None], moment, 0.0)
    return PlateLoads(plate.number, force, moment, axes.apply(plate.centre_m), normal, loaded)


def centre_of_pressure(force_n: np.ndarray, moment_nm: np.ndarray, point_m: np.ndarray,
                       normal: np.ndarray = _VERTICAL) -> tuple[np.ndarray, np.ndarray]:
    """COP on the plane through ``point_m`` with unit ``normal``, and the free moment there.

    Parameters
    ----------
    force_n
        ``(n, 3)`` force (N).
    moment_nm
        ``(n, 3)`` its moment about ``point_m`` (N·m).

    Returns
    -------
    cop_m, free_moment_nm
        ``(n, 3)`` each: ``cop = point + (normal × M) / (normal · F)`` and
        ``T = M − (cop − point) × F``, which is parallel to ``normal``. Zero where
        ``normal · F`` is zero (no load).
    """
    normal_force = force_n @ normal
    has_load = np.abs(normal_force) > 0
    offset = np.zeros_like(force_n)
    offset[has_load] = np.cross(normal, moment_nm[has_load]) / normal_force[has_load, None]
    free_moment = moment_nm - np.cross(offset, force_n)
    cop = np.where(has_load[:, None], point_m + offset, 0.0)
    return cop, np.where(has_load[:, None], free_moment, 0.0)


def merge_plates(plates: list[PlateLoads], masks: list[np.ndarray], n_samples: int, threshold_n: float) -> FootLoads:
    """Merge the plates a foot stood on into one force set.

    Forces add; moments are carried to the origin (``M_O = M_c + c × F``) and add; the COP
    is then found on the horizontal plane at the mean height of the contributing plates'
    surfaces, and the free moment about it. Where the merged vertical force is below
    ``threshold_n``, force, COP and torque are zero.

    Parameters
    ----------
    plates
        The plates' reactions.
    masks
        ``(n_samples,)`` booleans per plate: samples of that plate belonging to this foot.
    """
    force = np.zeros((n_samples, 3))
    moment_at_origin = np.zeros((n_samples, 3))
    heights = []
    for plate, mask in zip(plates, masks):
        if not mask.any():
            continue
        plate_force = np.where(mask[:, None], plate.force_n, 0.0)
        plate_moment = np.where(mask[:, None], plate.moment_nm, 0.0)
        force += plate_force
        moment_at_origin += plate_moment + np.cross(plate.centre_m, plate_force)
        heights.append(plate.centre_m[1])
    surface_point = np.array([0.0, float(np.mean(heights)) if heights else 0.0, 0.0])
    moment_at_surface = moment_at_origin - np.cross(surface_point, force)
    cop, torque = centre_of_pressure(force, moment_at_surface, surface_point)
    unloaded = force[:, 1] <= threshold_n
    for array in (force, cop, torque):
        array[unloaded] = 0.0
    return FootLoads(force, cop, torque)


def _low_pass(signals: np.ndarray, rate_hz: float, cutoff_hz: float, order: int, source_path: Path) -> np.ndarray:
    """Zero-lag Butterworth low-pass of ``(n_samples, n_signals)`` along time."""
    if cutoff_hz >= rate_hz / 2:
        raise InputDataError(source_path, f"the plate low-pass cut-off {cutoff_hz:g} Hz must be below half the analog "
                                          f"rate ({rate_hz / 2:g} Hz); lower --lowpass-hz")
    sos = butter(order, cutoff_hz, btype="low", fs=rate_hz, output="sos")
    minimum = 3 * (2 * len(sos) + 1)
    if signals.shape[0] <= minimum:
        raise InputDataError(source_path, f"{signals.shape[0]} analog samples are too few to filter (need > {minimum})")
    return sosfiltfilt(sos, signals, axis=0)
