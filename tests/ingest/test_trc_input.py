"""``gait2hip ingest trc``: a lab's TRC (its own marker names) + GRF .mot → the cohort layout.

The lab files are built from the vendored biomechZoo walk: its C3D ingest gives model-named
markers and a GRF .mot in OpenSim's axes; renaming the markers back to lab names gives the
TRC a lab would export, whose ingest must give the same trial again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from gait2hip.core.errors import InputDataError
from gait2hip.core.opensim_files import read_opensim_table, read_trc, write_mot, write_trc
from gait2hip.ingest.batch import ingest_c3d
from gait2hip.ingest.config import IngestConfig
from gait2hip.ingest.trc_input import convert_trc_trial
from gait2hip.workflows.cli import main

WALK = Path(__file__).resolve().parents[1] / "data" / "realdata" / "biomechzoo" / "HC055A09.c3d"
# TRC text keeps 5 significant digits or so of mm: positions agree to well under 0.01 mm.
POSITION_TOLERANCE_M = 1e-5
# A lab naming its markers its own way (lower and mixed case, dots and underscores).
OWN_NAMES = {"R.ASIS": "r.ASIS", "L.ASIS": "l.ASIS", "V.Sacral": "sacrum", "R.Knee.Lat": "R_knee",
             "L.Knee.Lat": "L_knee", "R.Ankle.Lat": "R_ankle", "L.Ankle.Lat": "L_ankle", "R.Heel": "R_heel",
             "L.Heel": "L_heel", "R.Toe.Med": "R_toe", "L.Toe.Med": "L_toe"}


@pytest.fixture(scope="module")
def from_c3d(tmp_path_factory) -> Path:
    """The walk's trial folder from ``ingest c3d`` (markers.trc with model names, grf.mot)."""
    subject = tmp_path_factory.mktemp("c3d") / "HC055A"
    ingest_c3d(WALK, subject)
    return subject / "trials" / "HC055A09"


def _lab_trc(trial_dir: Path, path: Path, names: dict[str, str], axes=(0, 1, 2)) -> Path:
    """The trial's markers under lab names (model marker → lab name; others dropped), as a TRC."""
    content = read_trc(trial_dir / "markers.trc")
    keep = [i for i, name in enumerate(content.marker_names) if name in names]
    positions_m = content.positions[:, keep][:, :, list(axes)] / 1000.0
    write_trc(path, [names[content.marker_names[i]] for i in keep], positions_m, content.times_s,
              float(content.metadata["DataRate"]))
    return path


def _plug_in_gait_names(trial_dir: Path) -> dict[str, str]:
    sources = json.loads((trial_dir / "ingest_summary.json").read_text())["marker_sources"]
    return {model: labs[0] for model, labs in sources.items() if len(labs) == 1}


def test_lab_names_are_renamed_into_the_model_markers(from_c3d, tmp_path):
    names = _plug_in_gait_names(from_c3d)  # every marker but Top.Head, a mean of four head-band markers
    trc = _lab_trc(from_c3d, tmp_path / "walk.trc", names)
    result = convert_trc_trial(trc, from_c3d / "grf.mot", tmp_path / "HC055A")
    assert result.protocol.name == "plug_in_gait" and result.protocol.how == "auto"
    ours, theirs = read_trc(result.paths["markers"]), read_trc(from_c3d / "markers.trc")
    kept = [i for i, name in enumerate(theirs.marker_names) if name in names]
    assert ours.marker_names == tuple(theirs.marker_names[i] for i in kept) and len(kept) == 18
    np.testing.assert_allclose(ours.positions / 1000.0, theirs.positions[:, kept] / 1000.0, atol=POSITION_TOLERANCE_M)


def test_a_protocol_yaml_of_your_own_renames_your_names(from_c3d, tmp_path):
    protocol = tmp_path / "my_lab.yaml"
    protocol.write_text(yaml.safe_dump({
        "name": "my_lab", "markers": {model: lab for model, lab in OWN_NAMES.items()},
        "pelvis": ["R.ASIS", "L.ASIS", "V.Sacral"],
        "feet": {"r": {"heel": "R.Heel", "toe": "R.Toe.Med"}, "l": {"heel": "L.Heel", "toe": "L.Toe.Med"}}}))
    trc = _lab_trc(from_c3d, tmp_path / "walk.trc", OWN_NAMES)
    result = convert_trc_trial(trc, from_c3d / "grf.mot", tmp_path / "S1", config=IngestConfig(protocol=str(protocol)))
    assert set(read_trc(result.paths["markers"]).marker_names) == set(OWN_NAMES)
    assert json.loads(result.paths["summary"].read_text())["marker_sources"]["V.Sacral"] == ["sacrum"]


def test_the_grf_is_copied_and_gives_the_same_gait_events(from_c3d, tmp_path):
    trc = _lab_trc(from_c3d, tmp_path / "walk.trc", _plug_in_gait_names(from_c3d))
    result = convert_trc_trial(trc, from_c3d / "grf.mot", tmp_path / "HC055A")
    assert result.paths["grf"].read_bytes() == (from_c3d / "grf.mot").read_bytes()
    ours = yaml.safe_load(result.paths["trial"].read_text())
    theirs = yaml.safe_load((from_c3d / "trial.yaml").read_text())
    assert ours["events"] == theirs["events"] and ours["cycles"] == theirs["cycles"]


def test_a_grf_without_the_standard_columns_is_refused(from_c3d, tmp_path):
    grf = read_opensim_table(from_c3d / "grf.mot")
    renamed = {name.replace("1_ground_force_v", "l_ground_force_v"): grf[name].to_numpy()
               for name in grf.columns if name != "time"}
    bad = write_mot(tmp_path / "grf.mot", renamed, grf["time"].to_numpy(), in_degrees=False)
    trc = _lab_trc(from_c3d, tmp_path / "walk.trc", _plug_in_gait_names(from_c3d))
    with pytest.raises(InputDataError, match=r"lacks the GRF column\(s\) 1_ground_force_vx, 1_ground_force_vy"):
        convert_trc_trial(trc, bad, tmp_path / "S1")
    assert not (tmp_path / "S1").exists()


def test_markers_not_in_opensim_axes_are_refused(from_c3d, tmp_path):
    trc = _lab_trc(from_c3d, tmp_path / "walk.trc", _plug_in_gait_names(from_c3d), axes=(0, 2, 1))  # Z up
    with pytest.raises(InputDataError, match=r"not in OpenSim's axes \(Y up\)"):
        convert_trc_trial(trc, from_c3d / "grf.mot", tmp_path / "S1")


def test_cli_writes_the_trial_static_and_subject(from_c3d, tmp_path, capsys):
    trc = _lab_trc(from_c3d, tmp_path / "walk.trc", _plug_in_gait_names(from_c3d))
    code = main(["ingest", "trc", str(trc), "--grf", str(from_c3d / "grf.mot"), "--static", str(trc),
                 "--out", str(tmp_path / "S1"), "--mass", "32", "--height", "1.44"])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "S1").iterdir()) == ["static.trc", "subject.yaml", "trials"]
    assert "protocol plug_in_gait (auto, score" in capsys.readouterr().out


def test_cli_without_mass_and_height_writes_nothing(from_c3d, tmp_path):
    trc = _lab_trc(from_c3d, tmp_path / "walk.trc", _plug_in_gait_names(from_c3d))
    assert main(["ingest", "trc", str(trc), "--grf", str(from_c3d / "grf.mot"), "--out", str(tmp_path / "S1")]) == 2
    assert not (tmp_path / "S1").exists()
