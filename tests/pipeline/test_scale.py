"""Scaling recovers known segment scale factors and the subject's mass."""

from __future__ import annotations

import numpy as np
import opensim
import pytest

from gait2hip.pipeline.config import PipelineConfig
from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.pipeline.scale import scale_subject
from gait2hip.pipeline.subject import SubjectInfo
from support.synthetic_pipeline_data import marker_positions, model_with_markers, write_trc

SCALE_FACTOR_TOLERANCE = 0.02  # 2 %, as the virtual-cohort validation asks
KNOWN_SCALE = 1.08


def test_scale_recovers_known_segment_factors_and_mass(tmp_path):
    big_model = model_with_markers(tmp_path / "big.osim", scale_factor=KNOWN_SCALE)
    names, positions = marker_positions(big_model, {"pelvis_tilt": np.zeros(50)})
    static = write_trc(tmp_path / "static.trc", names, positions, 100.0, units="mm")
    subject = SubjectInfo("S02", 81.0, 1.89)

    result = scale_subject(subject, static, tmp_path / "scale", PipelineConfig())

    for body in ("pelvis", "femur_r", "femur_l", "tibia_r", "calcn_l", "torso"):
        np.testing.assert_allclose(result.scale_factors[body], KNOWN_SCALE, rtol=SCALE_FACTOR_TOLERANCE, err_msg=body)
    scaled = opensim.Model(str(result.scaled_model_path))
    assert scaled.getTotalMass(scaled.initSystem()) == pytest.approx(81.0, rel=1e-6)
    assert result.marker_rms_error_m < 0.01


def test_static_trial_missing_a_required_marker_is_named(subject_files, tmp_path):
    names, positions = marker_positions(subject_files.marker_model_path, {"pelvis_tilt": np.zeros(10)})
    keep = [i for i, name in enumerate(names) if name != "V.Sacral"]
    static = write_trc(tmp_path / "static.trc", [names[i] for i in keep], positions[:, keep], 100.0)
    with pytest.raises(InputDataError, match=r"static.trc.*absent from the TRC: V\.Sacral"):
        scale_subject(subject_files.subject, static, tmp_path / "scale", PipelineConfig())


def test_a_measurement_with_no_marker_pair_left_is_named(subject_files, tmp_path):
    names, positions = marker_positions(subject_files.marker_model_path, {"pelvis_tilt": np.zeros(10)})
    keep = [i for i, name in enumerate(names) if name not in ("R.Knee.Lat", "L.Knee.Lat")]
    static = write_trc(tmp_path / "static.trc", [names[i] for i in keep], positions[:, keep], 100.0)
    with pytest.raises(InputDataError, match=r"cannot scale thigh .*R\.ASIS–R\.Knee\.Lat"):
        scale_subject(subject_files.subject, static, tmp_path / "scale", PipelineConfig())


@pytest.mark.parametrize("absent", [("Top.Head",), ("Top.Head", "Sternum", "R.Acromium", "L.Acromium")],
                         ids=["no head marker: fallback pairs", "no trunk marker: scaled like the pelvis"])
def test_a_static_trial_without_trunk_markers_still_scales_the_torso(tmp_path, absent):
    big_model = model_with_markers(tmp_path / "big.osim", scale_factor=KNOWN_SCALE)
    names, positions = marker_positions(big_model, {"pelvis_tilt": np.zeros(20)})
    keep = [i for i, name in enumerate(names) if name not in absent]  # clinical lower-body protocols
    static = write_trc(tmp_path / "static.trc", [names[i] for i in keep], positions[:, keep], 100.0, units="mm")

    result = scale_subject(SubjectInfo("S03", 81.0, 1.89), static, tmp_path / "scale", PipelineConfig())

    np.testing.assert_allclose(result.scale_factors["torso"], KNOWN_SCALE, rtol=SCALE_FACTOR_TOLERANCE)


def test_protocol_without_cluster_markers_still_labels(subject_files, still_trial, tmp_path):
    """A lab protocol that lacks the optional markers (e.g. thigh/shank clusters, toe tips)."""
    dropped = {"R.Thigh.Upper", "R.Thigh.Front", "L.Thigh.Upper", "L.Thigh.Front", "R.Shank.Upper",
               "R.Shank.Front", "L.Shank.Upper", "L.Shank.Front", "R.Toe.Tip", "L.Toe.Tip", "Sternum"}
    names, positions = marker_positions(subject_files.marker_model_path, {"pelvis_tilt": np.zeros(10)})
    keep = [i for i, name in enumerate(names) if name not in dropped]
    static = write_trc(tmp_path / "static.trc", [names[i] for i in keep], positions[:, keep], 100.0)
    result = scale_subject(subject_files.subject, static, tmp_path / "scale", PipelineConfig())
    np.testing.assert_allclose(result.scale_factors["calcn_r"], 1.0, rtol=SCALE_FACTOR_TOLERANCE)


def _model_yaml_with(tmp_path, change) -> str:
    """A copy of gait2392's model.yaml (pointing at the shipped model) with ``change`` applied to its mapping."""
    import yaml

    from gait2hip import opensim_models

    source = opensim_models.model_config_path("gait2392")
    raw = yaml.safe_load(source.read_text())
    raw["model_file"] = str(source.parent / raw["model_file"])
    raw["marker_set_file"] = str(source.parent / raw["marker_set_file"])
    change(raw)
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def test_a_misspelt_body_in_a_scale_measurement_is_named(subject_files, tmp_path):
    def misspell(raw):
        raw["scale_measurements"]["thigh"]["bodies"] = ["femur_r", "femur_lt"]
    config = PipelineConfig(model=_model_yaml_with(tmp_path, misspell))
    with pytest.raises(ConfigError, match=r"model\.yaml: scale_measurements\.thigh\.bodies names 'femur_lt', not a body"):
        scale_subject(subject_files.subject, subject_files.static_trc_path, tmp_path / "scale", config)


def test_a_marker_weight_naming_a_marker_the_marker_set_lacks_is_named(subject_files, tmp_path):
    def add_marker(raw):
        raw["marker_weights"]["R.Knee.Lateral"] = {"static": 1, "dynamic": 1}
    config = PipelineConfig(model=_model_yaml_with(tmp_path, add_marker))
    with pytest.raises(ConfigError, match=r"marker_weights names 'R\.Knee\.Lateral', not a marker of markerset\.xml"):
        scale_subject(subject_files.subject, subject_files.static_trc_path, tmp_path / "scale", config)


def test_measurements_on_chosen_axes_and_manual_factors_scale_only_what_they_name(tmp_path):
    big_model = model_with_markers(tmp_path / "big.osim", scale_factor=KNOWN_SCALE)
    names, positions = marker_positions(big_model, {"pelvis_tilt": np.zeros(20)})
    static = write_trc(tmp_path / "static.trc", names, positions, 100.0, units="mm")
    manual_torso = [1.1, 1.2, 1.3]

    def per_axis(raw):
        raw["scale_measurements"]["pelvis"]["axes"] = ["X", "Z"]
        raw["manual_scale_factors"] = {"torso": manual_torso}
    config = PipelineConfig(model=_model_yaml_with(tmp_path, per_axis))

    result = scale_subject(SubjectInfo("S03", 81.0, 1.89), static, tmp_path / "scale", config)

    np.testing.assert_allclose(result.scale_factors["pelvis"][[0, 2]], KNOWN_SCALE, rtol=SCALE_FACTOR_TOLERANCE)
    assert result.scale_factors["pelvis"][1] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(result.scale_factors["torso"], manual_torso, rtol=1e-9)
    np.testing.assert_allclose(result.scale_factors["femur_r"], KNOWN_SCALE, rtol=SCALE_FACTOR_TOLERANCE)


def test_the_landmark_fit_is_judged_at_the_static_pose_not_on_each_frames_sway(tmp_path):
    """Markers that jitter 5 mm frame to frame about one pose give the fit of that pose.

    Each marker moves its own way (no rigid pose follows it), +d on even frames and −d on odd
    ones: a frame-by-frame fit would carry ~5 mm of it, the pose of the trial none.
    """
    big_model = model_with_markers(tmp_path / "big.osim", scale_factor=KNOWN_SCALE)
    names, positions = marker_positions(big_model, {"pelvis_tilt": np.zeros(40)})
    directions = np.random.default_rng(0).normal(size=positions.shape[1:])
    jitter_m = 0.005 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    sway = np.zeros_like(positions)
    sway[0::2], sway[1::2] = jitter_m, -jitter_m
    still = write_trc(tmp_path / "still.trc", names, positions, 100.0, units="m")
    swaying = write_trc(tmp_path / "swaying.trc", names, positions + sway, 100.0, units="m")
    subject = SubjectInfo("S04", 81.0, 1.89)

    at_rest = scale_subject(subject, still, tmp_path / "still", PipelineConfig())
    moving = scale_subject(subject, swaying, tmp_path / "swaying", PipelineConfig())

    assert moving.marker_rms_error_m == pytest.approx(at_rest.marker_rms_error_m, abs=2e-4)
    assert moving.marker_max_error_m == pytest.approx(at_rest.marker_max_error_m, abs=2e-4)


def _scaled_and_generic_forces(tmp_path, config: PipelineConfig, subject: SubjectInfo):
    """``{"scaled" | "generic": {muscle: (max isometric force N, optimal fibre length m)}}`` and the generic mass (kg)."""
    from gait2hip.opensim_models import model_path

    names, positions = marker_positions(model_with_markers(tmp_path / "big.osim", scale_factor=KNOWN_SCALE),
                                        {"pelvis_tilt": np.zeros(20)})
    static = write_trc(tmp_path / "static.trc", names, positions, 100.0, units="mm")
    result = scale_subject(subject, static, tmp_path / "scale", config)
    models = {"scaled": opensim.Model(str(result.scaled_model_path)), "generic": opensim.Model(str(model_path("gait2392")))}
    generic_mass_kg = models["generic"].getTotalMass(models["generic"].initSystem())
    # Plain numbers: an OpenSim muscle handle does not outlive its model.
    muscles = {kind: {model.getMuscles().get(i).getName(): (model.getMuscles().get(i).getMaxIsometricForce(),
                                                            model.getMuscles().get(i).getOptimalFiberLength())
                      for i in range(model.getMuscles().getSize())} for kind, model in models.items()}
    return muscles, generic_mass_kg


def test_muscle_volume_strength_scales_each_muscle_by_volume_over_fibre_length(tmp_path):
    from gait2hip.pipeline.config import ScaleConfig
    from gait2hip.pipeline.muscle_strength import total_muscle_volume_cm3

    subject = SubjectInfo("S04", 95.0, 1.90)
    muscles, generic_mass_kg = _scaled_and_generic_forces(
        tmp_path, PipelineConfig(scale=ScaleConfig(muscle_strength="muscle_volume")), subject)
    ratio = total_muscle_volume_cm3(95.0, 1.90) / total_muscle_volume_cm3(generic_mass_kg, 1.8)
    assert ratio > 1.2
    for name in ("glut_med1_r", "rect_fem_l", "psoas_r", "soleus_l"):
        (scaled_force, scaled_length), (generic_force, generic_length) = muscles["scaled"][name], muscles["generic"][name]
        assert scaled_length == pytest.approx(KNOWN_SCALE * generic_length, rel=0.03)
        assert scaled_force == pytest.approx(generic_force * ratio * generic_length / scaled_length, rel=1e-9), name


def test_by_default_every_muscle_keeps_the_generic_models_strength(tmp_path):
    muscles, _ = _scaled_and_generic_forces(tmp_path, PipelineConfig(), SubjectInfo("S05", 95.0, 1.90))
    for name, (force, _) in muscles["scaled"].items():
        assert force == muscles["generic"][name][0], name


@pytest.mark.parametrize("setting, key, message", [
    ({"muscle_strength": "muscle_volume"}, "generic_height_m",
     r"model\.yaml: scale\.muscle_strength: muscle_volume needs generic_height_m"),
    ({"hip_joint_centre": "harrington2007"}, "hip_joint_centre",
     r"model\.yaml: scale\.hip_joint_centre: harrington2007 needs hip_joint_centre"),
])
def test_a_scale_option_on_a_model_yaml_without_the_key_it_needs_is_named(subject_files, tmp_path, setting, key, message):
    from gait2hip.pipeline.config import ScaleConfig

    config = PipelineConfig(model=_model_yaml_with(tmp_path, lambda raw: raw.pop(key)), scale=ScaleConfig(**setting))
    with pytest.raises(ConfigError, match=message):
        scale_subject(subject_files.subject, subject_files.static_trc_path, tmp_path / "scale", config)
    assert not (tmp_path / "scale" / "scaled_model.osim").exists()


def test_an_unknown_muscle_strength_rule_is_refused():
    from gait2hip.pipeline.config import ScaleConfig

    with pytest.raises(ValueError, match=r"scale\.muscle_strength must be one of \['generic', 'muscle_volume'\], got 'mass'"):
        ScaleConfig(muscle_strength="mass")


def test_harrington_hip_centres_put_the_model_hips_on_the_regressions_centres_of_the_static_markers(tmp_path):
    import json

    from gait2hip.pipeline.config import ScaleConfig
    from gait2hip.pipeline.hip_joint_centre import harrington_hip_centres_m, hip_joint_offsets_m

    names, positions = marker_positions(model_with_markers(tmp_path / "big.osim", scale_factor=KNOWN_SCALE),
                                        {"pelvis_tilt": np.zeros(20)})
    static = write_trc(tmp_path / "static.trc", names, positions, 100.0, units="mm")
    config = PipelineConfig(scale=ScaleConfig(hip_joint_centre="harrington2007"))

    result = scale_subject(SubjectInfo("S06", 81.0, 1.89), static, tmp_path / "scale", config)

    model = opensim.Model(str(result.scaled_model_path))
    hips = hip_joint_offsets_m(result.scaled_model_path, {"r": "hip_r", "l": "hip_l"})
    placed = {name: np.array(model.getMarkerSet().get(name).get_location().to_numpy())
              for name in ("R.ASIS", "L.ASIS", "V.Sacral", "R.HJC", "L.HJC")}
    centres = harrington_hip_centres_m(right_asis_m=placed["R.ASIS"], left_asis_m=placed["L.ASIS"],
                                       sacrum_m=placed["V.Sacral"])
    summary = json.loads((tmp_path / "scale" / "hip_joint_centres.json").read_text())
    for side, marker in (("r", "R.HJC"), ("l", "L.HJC")):
        np.testing.assert_allclose(placed[marker], hips[side], atol=1e-9)   # fixed on the joint
        distance_mm = np.linalg.norm(centres[side] - hips[side]) * 1000
        assert summary["hip_to_harrington_centre_mm"][side]["placed"] == pytest.approx(distance_mm, abs=0.01)
        # gait2392's hips sit about 4 cm from Harrington's centres of its own marker set's
        # pelvis markers; placed with the hip markers, what is left is mostly the hip-to-hip
        # width, which the regression puts wider than the model.
        assert summary["hip_to_harrington_centre_mm"][side]["scaled_generic"] > 30.0
        assert distance_mm < 12.0
    assert result.scale_factors["femur_r"] == pytest.approx(np.full(3, KNOWN_SCALE), rel=0.05)


def test_a_hip_joint_centre_entry_naming_a_marker_the_marker_set_lacks_is_named(subject_files, tmp_path):
    config = PipelineConfig(model=_model_yaml_with(
        tmp_path, lambda raw: raw["hip_joint_centre"].update(sacrum=["V.Sacrum"])))
    with pytest.raises(ConfigError, match=r"hip_joint_centre names 'V.Sacrum', not a marker of markerset\.xml"):
        scale_subject(subject_files.subject, subject_files.static_trc_path, tmp_path / "scale", config)


def test_hip_markers_reusing_a_marker_set_name_are_refused(subject_files, tmp_path):
    config = PipelineConfig(model=_model_yaml_with(
        tmp_path, lambda raw: raw["hip_joint_centre"]["hip_markers"].update(r="R.ASIS")))
    with pytest.raises(ConfigError, match=r"hip_joint_centre\.hip_markers names 'R.ASIS', already a marker"):
        scale_subject(subject_files.subject, subject_files.static_trc_path, tmp_path / "scale", config)


def test_an_unknown_hip_joint_centre_method_is_refused():
    from gait2hip.pipeline.config import ScaleConfig

    with pytest.raises(ValueError, match=r"scale\.hip_joint_centre must be one of \['model', 'harrington2007'\], got 'bell'"):
        ScaleConfig(hip_joint_centre="bell")
