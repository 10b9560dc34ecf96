"""Body-size scaling of the hip moments a surrogate learns: per kilogram, or per kilogram and metre.

The labels hold joint moments per kilogram of body mass (Nm/kg). Between people of different
size walking alike (the same angles over the cycle, the same dimensionless speed), moments per
kilogram still grow with the lever arms, that is with body height: a child of 1.3 m has about
three quarters of the hip moment per kilogram of an adult of 1.75 m. Dividing by body weight
and a body length makes them dimensionless (Hof A.L., "Scaling gait data to body size", Gait &
Posture 4:222–223, 1996). With ``moment_scaling: mass_height`` the surrogate learns the moments
per kilogram and per metre of body height (Nm/(kg·m); the constant g is left to the
standardisation) and multiplies its predictions back by the subject's height: a model trained
on adults then predicts a child's moments at the child's size. Muscle forces per kilogram are
already size-free in that sense (a moment over a moment arm, both growing with height) and are
left as they are.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from gait2hip.core.errors import InputDataError
from gait2hip.surrogate.segmentation import Segments

MOMENT_SCALINGS = ("mass", "mass_height")
HEIGHT_COLUMN = "height_m"
# Heights a label dataset may hold (m): the range the pipeline's subject check allows.
PLAUSIBLE_HEIGHT_M = (0.4, 2.8)


def moment_channels(target_names: list[str] | tuple[str, ...]) -> np.ndarray:
    """``(n_targets,)`` bool: the joint-moment channels (``<coordinate>_moment``)."""
    return np.array([name.endswith("_moment") for name in target_names], dtype=bool)


def trial_heights_m(table: pd.DataFrame, where: Path | str = "dataset") -> dict[tuple[str, str], float]:
    """Body height (m) of every ``(subject, trial)`` of a label table, from its ``height_m`` column.

    Raises
    ------
    InputDataError
        The table has no ``height_m`` column (labelled before the dataset carried it: relabel
        with ``gait2hip label``), a trial's height is missing, varies or is implausible.
    """
    if HEIGHT_COLUMN not in table.columns:
        raise InputDataError(Path(where), f"no '{HEIGHT_COLUMN}' column: moment_scaling 'mass_height' needs each "
                                          "subject's height (relabel with `gait2hip label`, whose dataset carries it, "
                                          "or train with moment_scaling: mass)")
    heights = {}
    for (subject, trial), values in table.groupby(["subject", "trial"], sort=True)[HEIGHT_COLUMN]:
        distinct = values.dropna().unique()
        if len(distinct) != 1 or not PLAUSIBLE_HEIGHT_M[0] <= float(distinct[0]) <= PLAUSIBLE_HEIGHT_M[1]:
            raise InputDataError(Path(where), f"subject={subject}/{trial}: '{HEIGHT_COLUMN}' must hold one height "
                                              f"from {PLAUSIBLE_HEIGHT_M[0]} to {PLAUSIBLE_HEIGHT_M[1]} m on every "
                                              f"row, found {sorted(map(float, distinct))}")
        heights[(str(subject), str(trial))] = float(distinct[0])
    return heights


def in_learned_units(segments: Segments, target_names: list[str] | tuple[str, ...], scaling: str) -> Segments:
    """``segments`` with their targets in what the network learns (:func:`to_learned_units`, their own heights)."""
    if scaling == "mass":
        return segments
    return dataclasses.replace(segments, targets=to_learned_units(segments.targets, target_names, scaling,
                                                                  segments.height_m))


def to_learned_units(targets: np.ndarray, target_names: list[str] | tuple[str, ...], scaling: str,
                     heights_m: np.ndarray | None) -> np.ndarray:
    """Label units → what the network learns: ``(n, time, n_targets)``, moments divided by height under ``mass_height``.

    ``heights_m`` is ``(n,)`` metres, one per sample (ignored under ``mass``).
    """
    return _scaled(targets, target_names, scaling, heights_m, divide=True)


def to_label_units(values: np.ndarray, target_names: list[str] | tuple[str, ...], scaling: str,
                   heights_m: np.ndarray | None) -> np.ndarray:
    """The inverse of :func:`to_learned_units`: moments (Nm/(kg·m)) times each sample's height (m) → Nm/kg."""
    return _scaled(values, target_names, scaling, heights_m, divide=False)


def _scaled(values: np.ndarray, target_names, scaling: str, heights_m: np.ndarray | None, divide: bool) -> np.ndarray:
    if scaling not in MOMENT_SCALINGS:
        raise ValueError(f"moment_scaling must be one of {list(MOMENT_SCALINGS)}, got {scaling!r}")
    if scaling == "mass":
        return values
    if heights_m is None:
        raise ValueError("this surrogate learns hip moments per metre of body height (moment_scaling: mass_height): "
                         "give each sample's body height in metres")
    heights_m = np.asarray(heights_m, dtype=float)
    if heights_m.shape != (len(values),) or not np.all(np.isfinite(heights_m) & (heights_m > 0)):
        raise ValueError(f"body heights must be {len(values)} positive values in metres (one per sample), "
                         f"got shape {heights_m.shape}")
    per_sample = heights_m.reshape((-1,) + (1,) * (values.ndim - 1))    # (n, 1, 1) against (n, time, k)
    moments = moment_channels(target_names)
    scaled = values.astype(float)
    scaled[..., moments] = values[..., moments] / per_sample if divide else values[..., moments] * per_sample
    return scaled
