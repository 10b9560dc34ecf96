"""Which foot stood on which plate, and each foot's merged force set.

Each plate's record is cut into contacts (runs of loaded samples). A contact belongs to
the foot whose heel–toe line passes closest, in the horizontal plane, to the plate's centre
of pressure over the contact. A contact whose COP is far from both feet (a hand, a
mislabelled marker) or that both feet share (one plate under both feet in double support)
cannot be attributed: that is an error naming the plate and the time range, and the
plate can be left out with ``ignore_plates``.

A contact shorter than a minimum (0.1 s by default; a walking stance lasts 0.5–0.8 s) is not a
foot: a toe brushing the plate's edge or a load spike. Kept, it would become a heel strike and
a false short gait cycle, so it is dropped before attribution and listed by
:func:`find_short_contacts` for the ingest summary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gait2hip.ingest.force_plates import FootLoads, PlateLoads, centre_of_pressure, merge_plates
from gait2hip.core.errors import InputDataError
from gait2hip.pipeline.foot_contact import runs_of as loaded_runs

logger = logging.getLogger(__name__)

SIDES = ("r", "l")
# Shortest plate contact taken for a foot (s): the MH lab's walk has 14 ms and 59 ms brushes of a
# plate, a stance lasts 0.5-0.8 s. IngestConfig.min_plate_contact_s carries the same default.
DEFAULT_MIN_CONTACT_S = 0.1


@dataclass(frozen=True)
class PlateContact:
    """One loaded period of one plate and the foot it was given to.

    Attributes
    ----------
    start_s, end_s
        First and last loaded sample times (s).
    mean_distance_m
        Mean horizontal distance from the COP to each foot's heel–toe line (m), by side.
    """

    plate_number: int
    side: str
    start_s: float
    end_s: float
    mean_distance_m: dict[str, float]


@dataclass(frozen=True)
class ShortContact:
    """A loaded period of a plate too short to be a foot's stance, left out of both feet.

    Attributes
    ----------
    start_s, end_s
        First and last loaded sample times (s).
    duration_s
        ``end_s - start_s`` plus one sample period (s).
    """

    plate_number: int
    start_s: float
    end_s: float
    duration_s: float

    def to_json(self) -> dict:
        return {"plate": self.plate_number, "start_s": self.start_s, "end_s": self.end_s,
                "duration_s": round(self.duration_s, 4),
                "note": f"dropped: {self.duration_s * 1000:.0f} ms of load is too short for a stance"}


def find_short_contacts(plates: list[PlateLoads], analog_times_s: np.ndarray, min_contact_s: float) -> list[ShortContact]:
    """The contacts of ``plates`` lasting less than ``min_contact_s`` (s), in plate then time order.

    Parameters
    ----------
    plates
        Plate reactions sampled at ``analog_times_s`` (s), each with its ``loaded`` mask.
    min_contact_s
        Shortest contact kept (s); 0 keeps every contact.
    """
    sample_s = float(np.median(np.diff(analog_times_s))) if len(analog_times_s) > 1 else 0.0
    short = []
    for plate in plates:
        for start, stop in loaded_runs(plate.loaded):
            duration_s = float(analog_times_s[stop - 1] - analog_times_s[start]) + sample_s
            if duration_s < min_contact_s:
                short.append(ShortContact(plate.number, float(analog_times_s[start]),
                                          float(analog_times_s[stop - 1]), duration_s))
    return short


def assign_plates_to_feet(plates: list[PlateLoads], analog_times_s: np.ndarray, marker_times_s: np.ndarray,
                          heels_m: dict[str, np.ndarray], toes_m: dict[str, np.ndarray], *,
                          max_distance_m: float, min_agreement: float, threshold_n: float,
                          source_path: Path, min_contact_s: float = DEFAULT_MIN_CONTACT_S,
                          ) -> tuple[dict[str, FootLoads], list[PlateContact]]:
    """Attribute every plate contact to a foot and merge each foot's plates.

    Parameters
    ----------
    plates
        Plate reactions (OpenSim axes), sampled at ``analog_times_s``.
    heels_m, toes_m
        ``{"r": (n_frames, 3), "l": ...}`` heel and toe markers (m, OpenSim axes) at ``marker_times_s``.
    min_contact_s
        Contacts shorter than this (s) are given to neither foot (see :func:`find_short_contacts`).

    Returns
    -------
    feet, contacts
        ``{"r": FootLoads, "l": FootLoads}`` and the contacts kept, with their foot.

    Raises
    ------
    InputDataError
        If a contact cannot be attributed to one foot.
    """
    masks = {side: [np.zeros(len(analog_times_s), dtype=bool) for _ in plates] for side in SIDES}
    contacts = []
    short = {(c.plate_number, c.start_s): c for c in find_short_contacts(plates, analog_times_s, min_contact_s)}
    for plate_index, plate in enumerate(plates):
        cop, _ = centre_of_pressure(plate.force_n, plate.moment_nm, plate.centre_m, plate.normal)
        for start, stop in loaded_runs(plate.loaded):
            times = analog_times_s[start:stop]
            brief = short.get((plate.number, float(times[0])))
            if brief is not None:
                logger.warning("%s: plate %d at %.3f-%.3f s is loaded for only %.0f ms; dropped (not a stance)",
                               source_path.name, plate.number, brief.start_s, brief.end_s, brief.duration_s * 1000)
                continue
            distances = {side: _distance_to_foot(cop[start:stop], times, marker_times_s, heels_m[side], toes_m[side])
                         for side in SIDES}
            span = f"plate {plate.number} at {times[0]:.3f}-{times[-1]:.3f} s"
            valid = ~np.isnan(distances["r"]) & ~np.isnan(distances["l"])
            if not valid.any():
                raise InputDataError(source_path, f"{span}: heel or toe markers are missing throughout the contact, "
                                                  "so the plate cannot be given to a foot; fill the gaps")
            mean = {side: float(np.mean(distances[side][valid])) for side in SIDES}
            side = min(SIDES, key=lambda s: mean[s])
            agreement = float(np.mean(distances[side][valid] <= distances[_other(side)][valid]))
            if mean[side] > max_distance_m:
                raise InputDataError(source_path, f"{span}: the centre of pressure is on average {mean[side] * 100:.0f} cm "
                                                  "from the nearest foot (something else on the plate, mislabelled foot "
                                                  "markers or wrong axes?); leave the plate out with --ignore-plates "
                                                  f"{plate.number} or check the markers")
            if agreement < min_agreement:
                raise InputDataError(source_path, f"{span}: both feet seem to be on the plate (the centre of pressure is "
                                                  f"nearest the {side} foot only {agreement:.0%} of the time); one "
                                                  f"force set cannot be split between feet; leave the plate out with "
                                                  f"--ignore-plates {plate.number}")
            masks[side][plate_index][start:stop] = True
            contacts.append(PlateContact(plate.number, side, float(times[0]), float(times[-1]), mean))
            logger.info("%s → %s foot (COP %.1f cm from it)", span, "right" if side == "r" else "left", mean[side] * 100)
    feet = {side: merge_plates(plates, masks[side], len(analog_times_s), threshold_n) for side in SIDES}
    return feet, contacts


def _other(side: str) -> str:
    return "l" if side == "r" else "r"


def _distance_to_foot(cop_m: np.ndarray, times_s: np.ndarray, marker_times_s: np.ndarray,
                      heel_m: np.ndarray, toe_m: np.ndarray) -> np.ndarray:
    """``(n,)`` horizontal (X–Z) distance from each COP sample to the heel–toe segment; NaN without markers."""
    heel = _interpolate(marker_times_s, heel_m, times_s)[:, [0, 2]]
    toe = _interpolate(marker_times_s, toe_m, times_s)[:, [0, 2]]
    point = cop_m[:, [0, 2]]
    along = toe - heel
    length_squared = np.maximum((along * along).sum(axis=1), 1e-12)
    fraction = np.clip(((point - heel) * along).sum(axis=1) / length_squared, 0.0, 1.0)
    return np.linalg.norm(point - (heel + fraction[:, None] * along), axis=1)


def _interpolate(times_s: np.ndarray, values: np.ndarray, at_s: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``(n_frames, 3)`` values; NaN where a neighbouring frame is NaN."""
    return np.column_stack([np.interp(at_s, times_s, values[:, axis]) for axis in range(3)])
