"""Muscle strength of a scaled model: the generic model's, or scaled with the subject's muscle volume.

OpenSim's ScaleTool scales the bodies, the muscle paths and each muscle's optimal fibre and
tendon slack lengths, but leaves every muscle's maximum isometric force at the generic model's:
a 95 kg subject's muscles are those of gait2392's 75 kg, 1.8 m generic subject, and a 25 kg
child's are as strong as an adult's. ``scale.muscle_strength: muscle_volume`` scales them
instead with the subject's total lower-limb muscle volume, which Handsfield et al. (2014,
J Biomech 47:631, MRI of 24 subjects) found to follow body mass × height,

    V_total (cm³) = 47.05 · mass (kg) · height (m) + 1289.6,

each muscle keeping its share of the volume, and its force proportional to its physiological
cross-section, volume over optimal fibre length:

    F_max = F_max,generic · (V_subject / V_generic) · (l_opt,generic / l_opt,scaled).

The generic subject's mass is the generic model's own (OpenSim's ``getTotalMass``); its height
is the model's ``generic_height_m`` in ``model.yaml``.
"""

from __future__ import annotations

import os
from pathlib import Path

import opensim

# Handsfield et al. (2014), total volume of 35 lower-limb muscles against mass × height.
VOLUME_PER_MASS_HEIGHT_CM3 = 47.05
VOLUME_OFFSET_CM3 = 1289.6


def total_muscle_volume_cm3(mass_kg: float, height_m: float) -> float:
    """Total lower-limb muscle volume (cm³) of a subject, Handsfield et al. (2014)."""
    return VOLUME_PER_MASS_HEIGHT_CM3 * mass_kg * height_m + VOLUME_OFFSET_CM3


def scale_muscle_strength(scaled_model_path: Path, generic_model_path: Path, mass_kg: float, height_m: float,
                          generic_height_m: float) -> None:
    """Rewrite ``scaled_model_path`` with each muscle's maximum isometric force scaled to the subject.

    Parameters
    ----------
    scaled_model_path
        The ScaleTool's output (.osim); replaced in place (written beside it, then renamed).
    generic_model_path
        The generic model it was scaled from (so it has every muscle of the scaled one): its
        muscles' forces and optimal fibre lengths, and its total mass (kg), are the reference.
    mass_kg, height_m
        The subject's body mass (kg) and standing height (m).
    generic_height_m
        The generic model's subject height (m).
    """
    generic = opensim.Model(str(generic_model_path))
    generic_state = generic.initSystem()
    ratio = (total_muscle_volume_cm3(mass_kg, height_m)
             / total_muscle_volume_cm3(generic.getTotalMass(generic_state), generic_height_m))
    model = opensim.Model(str(scaled_model_path))
    generic_muscles = generic.getMuscles()
    muscles = model.getMuscles()
    for index in range(muscles.getSize()):
        muscle = muscles.get(index)
        reference = generic_muscles.get(muscle.getName())
        muscle.setMaxIsometricForce(reference.getMaxIsometricForce() * ratio
                                    * reference.getOptimalFiberLength() / muscle.getOptimalFiberLength())
    partial = scaled_model_path.with_name(scaled_model_path.name + ".partial")
    model.printToXML(str(partial))
    os.replace(partial, scaled_model_path)
