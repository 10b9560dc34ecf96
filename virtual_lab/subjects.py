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
# Between-subject SD of each joint's offset (deg) and excursion gain. Measured people differ
# by more than their motor patterns: marker placement and the static pose set each subject's
# zero, and a surrogate meets that spread on every lab's data. The virtual lab places its
# markers exactly, so it puts the spread into the motion. The offsets are sized so that
# the virtual cohort's between-subject SD of the labelled angles (RMS over the gait cycle of
# the SD of subjects' mean curves; `benchmarks/realism.py`) comes near the measured one, which
# is 2.5–6.5° per joint on biomechZoo's 12 children (docs/benchmarks.md, "Realism"); whole-body
# IK on planted feet takes up part of each offset, so they are drawn larger than that target.
JOINT_VARIABILITY = {
    # joint: (offset SD deg, gain SD)
    "hip_flexion": (3.0, 0.06),
    "hip_adduction": (2.5, 0.10),
    "hip_rotation": (6.0, 0.15),
    "knee_angle": (4.0, 0.06),
    "ankle_angle": (4.0, 0.10),
}
# Pelvic tilt differs between people by a few degrees; with the hips and lumbar joint
# compensating it moves every hip flexion angle without moving the legs in the room.
PELVIS_TILT_OFFSET_SD_DEG = 4.0
# Step width (heel to heel, m). The 12 measured children of the real corpus (biomechZoo) walk
# with their heels 2–12 cm apart (median 6.6 cm, heel markers at foot flat); the adults here a
# little wider. Without it gait2392 with the template's stance hip adduction puts both heels
# on one line, which gives the stance hip a lever arm (and the hip abductors a load) that
# people do not have.
STEP_WIDTH_MEAN_M = 0.08
STEP_WIDTH_SD_M = 0.025
STEP_WIDTH_RANGE_M = (0.03, 0.14)


@dataclass(frozen=True)
class GaitTraits:
    """How one subject's gait departs from the template (per side ``r``/``l`` where it matters).

    offsets_deg
        Added to a joint's angle (joint → side → degrees).
    pelvis_tilt_offset_deg
        The subject's pelvic posture, added to the pelvis tilt (gait2392: negative is anterior),
        with the hips and the lumbar joint turned back by as much: the legs and the trunk keep
        their orientation in the room, so only the angles measured from the pelvis change.
    step_width_m
        Lateral distance between the right and left heel footprints (m); None: where the
        template's feet land.
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
    pelvis_tilt_offset_deg: float = 0.0
    step_width_m: float | None = None


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
    for joint, (offset_sd, gain_sd) in JOINT_VARIABILITY.items():
        subject_offset, subject_gain = rng.normal(0.0, offset_sd), rng.normal(1.0, gain_sd)
        for side in "rl":  # mostly symmetric, with a little side-to-side difference
            offsets[joint][side] = float(subject_offset + rng.normal(0.0, offset_sd / 4))
            gains[joint][side] = float(max(0.5, subject_gain + rng.normal(0.0, gain_sd / 4)))
    stance = float(np.clip(rng.normal(stance_fraction, 0.01), 0.56, 0.64))
    cadence_factor = float(rng.normal(1.0, 0.03))
    pelvis_tilt_offset_deg = float(rng.normal(0.0, PELVIS_TILT_OFFSET_SD_DEG))
    step_width_m = float(np.clip(rng.normal(STEP_WIDTH_MEAN_M, STEP_WIDTH_SD_M), *STEP_WIDTH_RANGE_M))
    traits = GaitTraits(offsets, gains, {"r": stance, "l": stance}, cadence_factor=cadence_factor,
                        pelvis_tilt_offset_deg=pelvis_tilt_offset_deg, step_width_m=step_width_m)
    return VirtualSubject(subject_id, height_m, bmi * height_m ** 2, "healthy", None, segment_scale, traits)
