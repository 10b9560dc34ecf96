"""Virtual subjects: anthropometry, segment scale factors and individual gait traits.

Heights and BMI are drawn from adult ranges; mass follows from BMI × height². Segment scale
factors vary between individuals around the height ratio to the generic model. Gait traits
(joint-angle offsets, amplitude gains, timing) make each subject walk a little differently.
A pathological group modifies the traits on its affected side (see :mod:`gait2hip.virtual_lab.pathology`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# gait2392's generic model represents a subject about 1.80 m tall (Delp et al. 1990).
GENERIC_MODEL_HEIGHT_M = 1.80
# Scaling groups of the model (same as the measurements in model.yaml): group → bodies.
SEGMENT_GROUPS = {
    "torso": ("torso",),
    "pelvis": ("pelvis",),
    "thigh": ("femur_r", "femur_l"),
    "shank": ("tibia_r", "tibia_l", "talus_r", "talus_l"),
    "foot": ("calcn_r", "calcn_l", "toes_r", "toes_l"),
}
JOINTS = ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle")


@dataclass(frozen=True)
class GaitTraits:
    """How one subject's gait departs from the template (per side ``r``/``l`` where it matters).

    offsets_deg
        Added to a joint's angle (joint → side → degrees).
    gains
        Multiply a joint's excursion about its mean (joint → side → factor).
    stance_fraction
        Stance duration as a fraction of the cycle (side → fraction).
    """

    offsets_deg: dict[str, dict[str, float]]
    gains: dict[str, dict[str, float]]
    stance_fraction: dict[str, float]
    lumbar_bending_offset_deg: float = 0.0
    pelvis_list_offset_deg: float = 0.0
    cadence_factor: float = 1.0


@dataclass(frozen=True)
class VirtualSubject:
    """One synthetic subject: metadata, segment scale factors (group → factor), gait traits."""

    subject_id: str
    height_m: float
    mass_kg: float
    group: str
    affected_side: str | None
    segment_scale: dict[str, float]
    traits: GaitTraits
    seed: int = field(default=0)

    def body_scale_factors(self) -> dict[str, float]:
        """Body name → uniform scale factor."""
        return {body: self.segment_scale[group] for group, bodies in SEGMENT_GROUPS.items() for body in bodies}


def sample_healthy_subject(subject_id: str, rng: np.random.Generator, stance_fraction: float) -> VirtualSubject:
    """Draw one healthy adult: height 1.55–1.95 m, BMI 19–30 kg/m², individual gait traits."""
    height_m = float(np.clip(rng.normal(1.72, 0.09), 1.55, 1.95))
    bmi = float(np.clip(rng.normal(23.5, 2.5), 19.0, 30.0))
    base = height_m / GENERIC_MODEL_HEIGHT_M
    segment_scale = {group: float(base * np.clip(rng.normal(1.0, 0.03), 0.93, 1.07)) for group in SEGMENT_GROUPS}
    offsets = {joint: {side: 0.0 for side in "rl"} for joint in JOINTS}
    gains = {joint: {side: 1.0 for side in "rl"} for joint in JOINTS}
    for joint, offset_sd, gain_sd in (("hip_flexion", 3.0, 0.06), ("hip_adduction", 1.5, 0.10),
                                      ("hip_rotation", 3.0, 0.15), ("knee_angle", 2.0, 0.06),
                                      ("ankle_angle", 2.0, 0.10)):
        subject_offset, subject_gain = rng.normal(0.0, offset_sd), rng.normal(1.0, gain_sd)
        for side in "rl":  # mostly symmetric, with a little side-to-side difference
            offsets[joint][side] = float(subject_offset + rng.normal(0.0, offset_sd / 4))
            gains[joint][side] = float(max(0.5, subject_gain + rng.normal(0.0, gain_sd / 4)))
    stance = float(np.clip(rng.normal(stance_fraction, 0.01), 0.56, 0.64))
    traits = GaitTraits(offsets, gains, {"r": stance, "l": stance}, cadence_factor=float(rng.normal(1.0, 0.03)))
    return VirtualSubject(subject_id, height_m, bmi * height_m ** 2, "healthy", None, segment_scale, traits)
