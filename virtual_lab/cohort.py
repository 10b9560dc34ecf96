"""Write a whole synthetic cohort in the lab layout (docs/cohort_layout.md).

Every subject draws its randomness from its own seeded stream (preset seed, group, index),
so the same preset and seed give byte-identical files, whatever the order of work.
The generating truth (segment scale factors, joint angles) goes to each subject's
``truth/`` folder; the pipeline never reads it, the validation does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensim
import yaml

from gait2hip.core.atomic import write_atomically
from gait2hip.core.opensim_files import write_trc
from gait2hip.virtual_lab.gait_template import GaitTemplate
from gait2hip.virtual_lab.kinematics import HEEL_MARKER_HEIGHT_M
from gait2hip.virtual_lab.pathology import ANTALGIC_CADENCE_STEPS_PER_MIN, make_antalgic
from gait2hip.virtual_lab.presets import CohortPreset, GroupSpec
from gait2hip.virtual_lab.subject_model import build_subject_model
from gait2hip.virtual_lab.subjects import VirtualSubject, sample_healthy_subject
from gait2hip.virtual_lab.trial import SynthesizedTrial, marker_positions, synthesize_trial

STATIC_DURATION_S = 1.0
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CohortSummary:
    """What :func:`synthesize_cohort` wrote: folder, subjects, and every trial's figures."""

    folder: Path
    subjects: list[VirtualSubject]
    trials: dict[str, SynthesizedTrial]


def synthesize_cohort(preset: CohortPreset, out_dir: Path,
                      progress: Callable[[str], None] | None = None) -> CohortSummary:
    """Write the cohort described by ``preset`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    template = GaitTemplate.load()
    _write_yaml(out_dir / "cohort.yaml", {
        "name": preset.name, "synthetic": True, "model": preset.model,
        "description": preset.description.strip() or "synthetic cohort from gait2hip's virtual gait lab",
        "generator": {"preset": preset.to_dict()},
    })
    subjects, trials = [], {}
    number = 0
    for group_index, group in enumerate(preset.groups):
        for index in range(group.subjects):
            number += 1
            subject_id = f"{'S' if group.group == 'healthy' else 'P'}{number:02d}"
            rng = np.random.default_rng([preset.seed, group_index, index])
            subject = sample_healthy_subject(subject_id, rng, template.stance_fraction)
            if group.group == "antalgic-hip":
                subject = make_antalgic(subject, rng)
            if progress:
                progress(f"{subject_id} ({subject.group})")
            subjects.append(subject)
            trials.update(_write_subject(subject, group, preset, out_dir / subject_id, template, rng))
    return CohortSummary(out_dir, subjects, trials)


def _write_subject(subject: VirtualSubject, group: GroupSpec, preset: CohortPreset, folder: Path,
                   template: GaitTemplate, rng: np.random.Generator) -> dict[str, SynthesizedTrial]:
    truth = folder / "truth"
    model_path = build_subject_model(subject, truth / "model.osim", preset.model)
    _write_yaml(folder / "subject.yaml", {"id": subject.subject_id, "mass_kg": round(subject.mass_kg, 2),
                                          "height_m": round(subject.height_m, 3), "group": subject.group,
                                          "affected_side": subject.affected_side})
    _write_yaml(truth / "scale_factors.yaml", {"segment_scale": subject.segment_scale,
                                               "body_scale": subject.body_scale_factors(),
                                               "mass_kg": subject.mass_kg})
    _write_static(model_path, subject, folder / "static.trc", preset.recording.marker_rate_hz,
                  preset.recording.marker_noise_m, rng)
    cadences = group.cadences_steps_per_min or (ANTALGIC_CADENCE_STEPS_PER_MIN * subject.traits.cadence_factor,)
    written = {}
    for cadence in cadences:
        condition = f"cadence_{int(round(cadence)):03d}" if group.cadences_steps_per_min else "self_selected"
        for repeat in range(group.trials_per_cadence):
            trial_id = f"{condition}_{repeat + 1:02d}"
            trial_dir = folder / "trials" / trial_id
            result = synthesize_trial(subject, model_path, float(cadence), trial_dir, truth, trial_id,
                                      preset.recording, template, rng)
            _write_yaml(trial_dir / "trial.yaml", {"id": trial_id, "cadence_condition": condition,
                                                   "cadence_steps_per_min": round(float(cadence), 2),
                                                   "events": result.events})
            _write_yaml(truth / f"{trial_id}_synthesis.yaml", {"foot_slip_m": result.foot_slip_m,
                                                               "cop_clamped_moment_nm": result.clamped_moment_nm,
                                                               "cop_outside_foot_m": result.cop_outside_foot_m,
                                                               "stride_time_s": result.stride_time_s})
            written[f"{subject.subject_id}/{trial_id}"] = result
    return written


def _write_static(model_path: Path, subject: VirtualSubject, path: Path, rate_hz: float, noise_m: float,
                  rng: np.random.Generator) -> Path:
    """A quiet-standing trial: neutral pose, heels at marker height above the floor."""
    model = opensim.Model(str(model_path))
    n_frames = int(round(STATIC_DURATION_S * rate_hz)) + 1
    zeros = np.zeros(n_frames)
    names, positions = marker_positions(model, {"pelvis_ty": zeros})
    heel = positions[0, names.index("R.Heel"), 1]
    lift = HEEL_MARKER_HEIGHT_M * subject.segment_scale["foot"] - heel
    names, positions = marker_positions(model, {"pelvis_ty": zeros + lift})
    noisy = positions + noise_m * rng.standard_normal(positions.shape)
    return write_trc(path, names, noisy, np.arange(n_frames) / rate_hz, rate_hz, units="mm")


def _write_yaml(path: Path, content: dict) -> Path:
    text = yaml.safe_dump(_plain(content), sort_keys=True)
    return write_atomically(path, lambda temporary: temporary.write_text(text))


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value
