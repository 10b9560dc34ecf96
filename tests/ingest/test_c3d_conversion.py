"""C3D → markers.trc, grf.mot, trial.yaml: known markers and loads come back in OpenSim's axes.

The scenarios (see conftest.py) are defined in OpenSim's axes and written in a lab's axes;
the converted files are read back with the pipeline's own readers.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.ingest.config import IngestConfig
from gait2hip.ingest.convert import convert_c3d_static, convert_c3d_trial
from gait2hip.pipeline.markers import read_trc

COP_TOLERANCE_M = 1e-3
FORCE_TOLERANCE_N = 1.0
MARKER_TOLERANCE_M = 1e-6
PLATE_EVENT_TOLERANCE_S = 0.01  # the 20 N threshold is crossed 4.8 ms into a 800 N half-sine stance
KINEMATIC_EVENT_TOLERANCE_S = 0.02  # two frames at 100 Hz


def _convert(sc, tmp_path, scenario, **config):
    tmp_path.mkdir(parents=True, exist_ok=True)
    c3d = sc.write_c3d(tmp_path / "walk.c3d", scenario)
    result = convert_c3d_trial(c3d, tmp_path / "S01", config=IngestConfig(**config))
    grf = read_opensim_table(result.paths["grf"])
    return result, grf


def _row(grf, time_s):
    return grf.iloc[int(np.argmin(np.abs(grf["time"].to_numpy() - time_s)))]


def _known_reaction(sc, side, stance_index, time_s):
    force, cop, free_moment = sc.walking_reaction(side, stance_index)(np.array([time_s]))
    return force[0], cop[0], free_moment[0]


def test_writes_the_cohort_layout(scenarios, tmp_path):
    sc = scenarios
    result, _ = _convert(sc, tmp_path, sc.walking_scenario())
    trial_dir = tmp_path / "S01" / "trials" / "walk"
    assert sorted(p.name for p in trial_dir.iterdir()) == ["grf.mot", "ingest_summary.json", "markers.trc", "trial.yaml"]
    trial = yaml.safe_load((trial_dir / "trial.yaml").read_text())
    assert trial["id"] == "walk" and trial["cadence_condition"] == "self_selected"
    assert set(trial["events"]) == {"heel_strike_r", "toe_off_r", "heel_strike_l", "toe_off_l"}
    assert not list(tmp_path.glob("S01/trials/.*")), "no staging folder may remain"


@pytest.mark.parametrize("time_s", [1.29, 1.35, 1.50, 1.71])
def test_grf_and_centre_of_pressure_round_trip(scenarios, tmp_path, time_s):
    sc = scenarios
    _, grf = _convert(sc, tmp_path, sc.walking_scenario())
    force, cop, free_moment = _known_reaction(sc, "r", 1, time_s)
    row = _row(grf, time_s)
    np.testing.assert_allclose(row[["ground_force_vx", "ground_force_vy", "ground_force_vz"]].to_numpy(float), force,
                               atol=FORCE_TOLERANCE_N)
    np.testing.assert_allclose(row[["ground_force_px", "ground_force_py", "ground_force_pz"]].to_numpy(float), cop,
                               atol=COP_TOLERANCE_M)
    np.testing.assert_allclose(row[["ground_torque_x", "ground_torque_y", "ground_torque_z"]].to_numpy(float),
                               [0.0, free_moment, 0.0], atol=0.05)


@pytest.mark.parametrize("lab", ["Z_UP_LAB", "Y_UP_LAB"], ids=["z_up_lab", "y_up_lab_walking_along_minus_z"])
def test_lab_axes_are_rotated_to_opensim_y_up(scenarios, tmp_path, lab):
    sc = scenarios
    scenario = sc.walking_scenario(lab_from_canonical=getattr(sc, lab))
    result, grf = _convert(sc, tmp_path, scenario)
    markers = read_trc(result.paths["markers"])
    sacrum = markers.positions_m[:, markers.marker_names.index("V.Sacral"), :]
    expected = 0.5 * (scenario.positions_m[:, scenario.marker_names.index("RPSI")]
                      + scenario.positions_m[:, scenario.marker_names.index("LPSI")])
    np.testing.assert_allclose(sacrum, expected, atol=MARKER_TOLERANCE_M)
    assert np.all(sacrum[:, 1] > 0.9), "the pelvis must be up along Y"
    right_heel_z = markers.positions_m[:, markers.marker_names.index("R.Heel"), 2]
    assert np.all(right_heel_z > 0), "the right foot must be on +Z"
    assert _row(grf, 1.5)["ground_force_vy"] == pytest.approx(800.0, abs=FORCE_TOLERANCE_N)


def test_given_axes_agree_with_detected_axes(scenarios, tmp_path):
    sc = scenarios
    detected, grf_detected = _convert(sc, tmp_path / "a", sc.walking_scenario())
    given, grf_given = _convert(sc, tmp_path / "b", sc.walking_scenario(), vertical_axis="z", forward_axis="+x")
    np.testing.assert_array_equal(detected.axes.rotation, given.axes.rotation)
    assert (detected.axes.vertical_from, given.axes.vertical_from) == ("plate load", "given")
    np.testing.assert_allclose(grf_detected.to_numpy(), grf_given.to_numpy())


def test_millimetre_and_metre_files_give_the_same_output(scenarios, tmp_path):
    sc = scenarios
    in_mm, grf_mm = _convert(sc, tmp_path / "mm", sc.walking_scenario(units="mm"))
    in_m, grf_m = _convert(sc, tmp_path / "m", sc.walking_scenario(units="m"))
    np.testing.assert_allclose(read_trc(in_mm.paths["markers"]).positions_m, read_trc(in_m.paths["markers"]).positions_m,
                               atol=MARKER_TOLERANCE_M)
    np.testing.assert_allclose(grf_mm.to_numpy(), grf_m.to_numpy(), atol=1e-6)
    assert read_trc(in_m.paths["markers"]).positions_m[0, 0, 1] == pytest.approx(1.25, abs=1e-6)  # Sternum height


def test_plates_are_given_to_the_foot_standing_on_them(scenarios, tmp_path):
    sc = scenarios
    result, grf = _convert(sc, tmp_path, sc.walking_scenario())
    assert [(c.plate_number, c.side) for c in result.contacts] == [(1, "l"), (2, "r")]
    time = grf["time"].to_numpy()
    left_stance = (time > 0.71) & (time < 1.29)
    right_stance = (time > 1.21) & (time < 1.79)
    assert np.all(grf["1_ground_force_vy"].to_numpy()[left_stance] > 20)
    assert np.all(grf["1_ground_force_vy"].to_numpy()[~((time > 0.69) & (time < 1.31))] == 0)
    assert np.all(grf["ground_force_vy"].to_numpy()[right_stance] > 20)
    assert np.all(grf["ground_force_vy"].to_numpy()[~((time > 1.19) & (time < 1.81))] == 0)


def test_force_cop_and_torque_are_zero_below_the_load_threshold(scenarios, tmp_path):
    sc = scenarios
    _, grf = _convert(sc, tmp_path, sc.walking_scenario(), load_threshold_n=50.0)
    vertical = grf["ground_force_vy"].to_numpy()
    unloaded = vertical == 0
    threshold_time = 1.2 + sc.STANCE_S * np.arcsin(50.0 / 800.0) / np.pi
    first_loaded = grf["time"].to_numpy()[np.argmax(~unloaded)]
    assert first_loaded == pytest.approx(threshold_time, abs=0.002)
    for column in ("ground_force_vx", "ground_force_vz", "ground_force_px", "ground_force_pz", "ground_torque_y"):
        assert np.all(grf[column].to_numpy()[unloaded] == 0), column
    assert np.all(vertical[~unloaded] > 50.0)


def test_plate_noise_above_the_cutoff_is_filtered_out(scenarios, tmp_path):
    sc = scenarios
    noisy = sc.walking_scenario(noise_hz=200.0, noise_n=40.0)
    _, grf = _convert(sc, tmp_path, noisy, lowpass_cutoff_hz=30.0)
    force, cop, _ = _known_reaction(sc, "r", 1, 1.5)
    row = _row(grf, 1.5)
    assert row["ground_force_vy"] == pytest.approx(force[1], abs=2.0)
    assert row["ground_force_px"] == pytest.approx(cop[0], abs=COP_TOLERANCE_M)


def test_two_plates_under_one_foot_are_merged(scenarios, tmp_path):
    sc = scenarios
    heel = sc.heel_position_m("r", 1)
    heel_point = np.array([heel[0] + 0.03, 0.0, 0.09])
    forefoot_point = np.array([heel[0] + 0.17, 0.0, 0.10])

    def loading(share_n, shear_n, point, free_moment_nm):
        def reaction(times_s):
            on = ((times_s >= 1.2) & (times_s <= 1.8)).astype(float)
            force = np.column_stack([shear_n * on, share_n * on, np.zeros_like(on)])
            return force, np.tile(point, (len(times_s), 1)), free_moment_nm * on
        return reaction

    plates = (sc.PlateSpec((1.25, 0.0, -0.05), sc.walking_reaction("l", 0)),
              sc.PlateSpec((1.60, 0.0, 0.05), loading(500.0, 0.0, heel_point, 0.0)),
              sc.PlateSpec((2.20, 0.0, 0.05), loading(300.0, 30.0, forefoot_point, 1.0)))
    result, grf = _convert(sc, tmp_path, sc.walking_scenario(plates=plates), lowpass_cutoff_hz=0)
    assert [(c.plate_number, c.side) for c in result.contacts] == [(1, "l"), (2, "r"), (3, "r")]
    forces = {"heel": np.array([0.0, 500.0, 0.0]), "forefoot": np.array([30.0, 300.0, 0.0])}
    total = forces["heel"] + forces["forefoot"]
    cop = (500.0 * heel_point + 300.0 * forefoot_point) / 800.0
    torque_y = 1.0 + (np.cross(heel_point - cop, forces["heel"]) + np.cross(forefoot_point - cop, forces["forefoot"]))[1]
    row = _row(grf, 1.5)
    np.testing.assert_allclose(row[["ground_force_vx", "ground_force_vy", "ground_force_vz"]].to_numpy(float), total,
                               atol=1e-6)
    np.testing.assert_allclose(row[["ground_force_px", "ground_force_py", "ground_force_pz"]].to_numpy(float), cop,
                               atol=COP_TOLERANCE_M)
    assert row["ground_torque_y"] == pytest.approx(torque_y, abs=1e-6)


def test_gait_events_from_plates_at_known_times(scenarios, tmp_path):
    sc = scenarios
    result, _ = _convert(sc, tmp_path, sc.walking_scenario())
    events, sources = result.events, result.events.sources
    plate_events = {key: [t for t, s in zip(getattr(events, f"{key[:-2]}_s")[key[-1]], sources[key]) if s == "plate"]
                    for key in ("heel_strike_r", "toe_off_r", "heel_strike_l", "toe_off_l")}
    expected = {"heel_strike_r": [1.2], "toe_off_r": [1.8], "heel_strike_l": [0.7], "toe_off_l": [1.3]}
    for key, times in expected.items():
        np.testing.assert_allclose(plate_events[key], times, atol=PLATE_EVENT_TOLERANCE_S, err_msg=key)


def test_kinematic_events_fill_in_the_strides_off_the_plates(scenarios, tmp_path):
    sc = scenarios
    result, _ = _convert(sc, tmp_path, sc.walking_scenario())
    events = result.events
    right_heel_strikes = [sc.FIRST_HEEL_STRIKE_S["r"] + k for k in range(3)]  # 0.2 (kin), 1.2 (plate), 2.2 (kin)
    np.testing.assert_allclose(events.heel_strike_s["r"], right_heel_strikes, atol=KINEMATIC_EVENT_TOLERANCE_S)
    np.testing.assert_allclose(events.toe_off_s["r"], [0.8, 1.8], atol=KINEMATIC_EVENT_TOLERANCE_S)
    np.testing.assert_allclose(events.heel_strike_s["l"], [0.7, 1.7], atol=KINEMATIC_EVENT_TOLERANCE_S)
    np.testing.assert_allclose(events.toe_off_s["l"], [0.3, 1.3, 2.3], atol=KINEMATIC_EVENT_TOLERANCE_S)
    assert events.sources["heel_strike_r"] == ["kinematic", "plate", "kinematic"]


def test_cycles_and_cadence_in_trial_yaml(scenarios, tmp_path):
    sc = scenarios
    result, _ = _convert(sc, tmp_path, sc.walking_scenario())
    trial = yaml.safe_load(result.paths["trial"].read_text())
    assert trial["cadence_steps_per_min"] == pytest.approx(120.0, abs=2.0)
    assert len(trial["cycles"]["r"]) == 2 and len(trial["cycles"]["l"]) == 1
    start, end = trial["cycles"]["l"][0]
    assert (start, end) == pytest.approx((0.7, 1.7), abs=KINEMATIC_EVENT_TOLERANCE_S)
    assert trial["events"]["heel_strike_r"] == pytest.approx([0.2, 1.2, 2.2], abs=KINEMATIC_EVENT_TOLERANCE_S)


def test_static_c3d_becomes_static_trc(scenarios, tmp_path):
    sc = scenarios
    scenario = sc.static_scenario()
    c3d = sc.write_c3d(tmp_path / "static.c3d", scenario)
    result = convert_c3d_static(c3d, tmp_path / "S01")
    assert result.paths["static"] == tmp_path / "S01" / "static.trc"
    markers = read_trc(result.paths["static"])
    assert markers.positions_m.shape[0] == 50
    assert (result.axes.vertical_from, result.axes.forward_from) == ("markers", "feet")
    heel = markers.positions_m[0, markers.marker_names.index("R.Heel")]
    np.testing.assert_allclose(heel, scenario.positions_m[0, scenario.marker_names.index("RHEE")], atol=MARKER_TOLERANCE_M)


def test_outputs_pass_the_pipelines_input_checks(scenarios, tmp_path):
    from gait2hip.pipeline.config import GRFConfig
    from gait2hip.pipeline.ground_reactions import read_grf
    sc = scenarios
    result, _ = _convert(sc, tmp_path, sc.walking_scenario())
    markers = read_trc(result.paths["markers"])
    grf = read_grf(result.paths["grf"], GRFConfig(), (markers.times_s[0], markers.times_s[-1]))
    stance = grf.stance("r", markers.times_s, GRFConfig().contact_threshold_n)
    assert stance[(markers.times_s > 1.25) & (markers.times_s < 1.75)].all()
    assert not stance[markers.times_s < 1.15].any()
