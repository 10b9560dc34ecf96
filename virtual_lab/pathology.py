"""The ``antalgic-hip`` group: an ONFH-like antalgic gait on one side.

Compared with a healthy subject: reduced hip extension and range on the affected side,
shorter affected stance, slower self-selected cadence, trunk lean over the affected hip
(lumbar bending), and pelvic drop on the swing side. Magnitudes follow the direction of
change reported for hip osteonecrosis and osteoarthritis gait; they are illustrative.
"""

from __future__ import annotations

import copy

import numpy as np

from gait2hip.virtual_lab.subjects import GaitTraits, VirtualSubject

# Self-selected cadence of the group (steps/min), slower than healthy adults' ~110.
ANTALGIC_CADENCE_STEPS_PER_MIN = 95.0


def make_antalgic(subject: VirtualSubject, rng: np.random.Generator) -> VirtualSubject:
    """Return ``subject`` with an antalgic hip on a random side (seeded through ``rng``)."""
    side = "r" if rng.random() < 0.5 else "l"
    other = "l" if side == "r" else "r"
    severity = float(rng.uniform(0.6, 1.0))
    offsets = copy.deepcopy(subject.traits.offsets_deg)
    gains = copy.deepcopy(subject.traits.gains)
    # Less hip extension and range: shift flexion up, shrink its excursion.
    offsets["hip_flexion"][side] += 6.0 * severity
    gains["hip_flexion"][side] *= 1.0 - 0.3 * severity
    gains["knee_angle"][side] *= 1.0 - 0.15 * severity
    gains["hip_adduction"][side] *= 1.0 - 0.3 * severity
    stance = dict(subject.traits.stance_fraction)
    stance[side] -= 0.04 * severity
    stance[other] += 0.03 * severity
    lean_sign = 1.0 if side == "r" else -1.0  # lumbar bending towards the affected side
    traits = GaitTraits(offsets, gains, stance,
                        lumbar_bending_offset_deg=lean_sign * 6.0 * severity,
                        pelvis_list_offset_deg=-lean_sign * 2.0 * severity,
                        cadence_factor=subject.traits.cadence_factor,
                        pelvis_tilt_offset_deg=subject.traits.pelvis_tilt_offset_deg,
                        step_width_m=subject.traits.step_width_m)
    return VirtualSubject(subject.subject_id, subject.height_m, subject.mass_kg, "antalgic-hip", side,
                          subject.segment_scale, traits, subject.seed)
