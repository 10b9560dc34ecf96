"""The static-optimization actuator set, generated from the model's own coordinates.

Pelvis residual actuators (one ``CoordinateActuator`` per root coordinate) absorb the
dynamic inconsistency between the motion and the measured GRFs; weak reserve actuators on
every other unlocked coordinate let SO solve frames where muscles alone cannot produce the
ID moment, at a high cost so they are used only then.
"""

from __future__ import annotations

from pathlib import Path

import opensim

from gait2hip.pipeline.config import StaticOptimizationConfig
from gait2hip.pipeline.model_config import ModelConfig

RESIDUAL_PREFIX = "residual_"
RESERVE_PREFIX = "reserve_"


def write_so_actuators(model: opensim.Model, model_config: ModelConfig,
                       settings: StaticOptimizationConfig, xml_path: Path) -> list[str]:
    """Write the residual + reserve ``ForceSet`` XML for ``model``; return the actuator names."""
    force_set = opensim.ForceSet()
    force_set.setName("so_residuals_and_reserves")
    names = []
    coordinates = model.getCoordinateSet()
    for index in range(coordinates.getSize()):
        coordinate = coordinates.get(index)
        coordinate_name = coordinate.getName()
        if coordinate_name in model_config.pelvis_translations:
            name, optimal_force = RESIDUAL_PREFIX + coordinate_name, settings.residual_force_optimal_n
        elif coordinate_name in model_config.pelvis_rotations:
            name, optimal_force = RESIDUAL_PREFIX + coordinate_name, settings.residual_moment_optimal_nm
        elif coordinate.get_locked() or coordinate.getMotionType() == coordinate.Coupled:
            continue
        else:
            name, optimal_force = RESERVE_PREFIX + coordinate_name, settings.reserve_optimal_nm
        actuator = opensim.CoordinateActuator(coordinate_name)
        actuator.setName(name)
        actuator.setOptimalForce(optimal_force)
        actuator.setMinControl(-float("inf"))
        actuator.setMaxControl(float("inf"))
        force_set.cloneAndAppend(actuator)
        names.append(name)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    force_set.printToXML(str(xml_path))
    return names
