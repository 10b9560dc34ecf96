"""Put a model's joint angles and moments into the label sign convention (docs/labels.md).

Label tables from every model share one sign convention, gait2392's: hip flexion, adduction
and internal rotation positive, knee angle negative in flexion, ankle dorsiflexion positive.
A model whose coordinate runs the other way (Rajagopal-family knees are positive in flexion)
declares it in its ``model.yaml`` (``label_signs: {knee_angle_r: -1, ...}``), and the
coordinate's angle column and, for a hip coordinate, its moment column are negated here, so a
surrogate trained on one model's labels reads another's the same way.

Both columns flip together: the ID moment about a coordinate is the generalized force along
that coordinate's positive direction, so reversing the direction reverses the moment.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gait2hip.pipeline.model_config import ModelConfig

MOMENT_SUFFIX = "_moment"


def apply_label_signs(columns: Mapping[str, np.ndarray], model_config: ModelConfig) -> dict[str, np.ndarray]:
    """Return ``columns`` with every coordinate of label sign −1 negated (angle and moment column).

    Parameters
    ----------
    columns
        Label columns by name, each ``(n_frames,)``: ``<coordinate>`` angles (degrees) for the
        model's input coordinates, ``<hip coordinate>_moment`` (Nm/kg), and any others (time,
        muscle forces, stance), which are passed through unchanged.
    model_config
        The model's configuration; ``model_config.label_signs`` names the coordinates to flip.

    Returns
    -------
    dict of str to numpy.ndarray
        A new mapping in the same column order; flipped columns are new arrays, the others are
        the arrays given (``columns`` itself is not modified).

    Raises
    ------
    KeyError
        If a coordinate to flip lacks its column: its angle column when it is an input
        coordinate, its moment column when it is a hip coordinate.
    """
    flipped = dict(columns)
    for coordinate, sign in model_config.label_signs.items():
        if sign != -1:
            continue
        names = []
        if coordinate in model_config.input_coordinates:
            names.append(coordinate)
        if coordinate in model_config.hip_coordinates:
            names.append(coordinate + MOMENT_SUFFIX)
        for name in names:
            if name not in columns:
                raise KeyError(f"label column {name!r} is missing: {model_config.name}'s label_signs flips "
                               f"{coordinate!r}, so its column must be present")
            flipped[name] = -np.asarray(columns[name], dtype=float)
    return flipped
