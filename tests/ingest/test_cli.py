"""``gait2hip ingest c3d``: exit codes, cohort layout, subject.yaml, folder mode."""

from __future__ import annotations

import yaml

from gait2hip.workflows.cli import main


def test_ingest_one_file_writes_trial_and_subject_yaml(scenarios, tmp_path, capsys):
    c3d = scenarios.write_c3d(tmp_path / "Walk 01.c3d", scenarios.walking_scenario())
    code = main(["ingest", "c3d", str(c3d), "--out", str(tmp_path / "S07"), "--mass", "72.5", "--height", "1.78",
                 "--cadence-condition", "cadence_120"])
    assert code == 0
    trial = yaml.safe_load((tmp_path / "S07" / "trials" / "Walk_01" / "trial.yaml").read_text())
    assert trial["cadence_condition"] == "cadence_120"
    subject = yaml.safe_load((tmp_path / "S07" / "subject.yaml").read_text())
    assert subject == {"id": "S07", "mass_kg": 72.5, "height_m": 1.78, "group": "healthy", "affected_side": None}
    assert "plates 1→l, 2→r" in capsys.readouterr().out


def test_ingest_folder_with_static_and_walking_trials(scenarios, tmp_path):
    folder = tmp_path / "session"
    folder.mkdir()
    scenarios.write_c3d(folder / "Static 1.c3d", scenarios.static_scenario())
    scenarios.write_c3d(folder / "walk_01.c3d", scenarios.walking_scenario())
    scenarios.write_c3d(folder / "walk_02.c3d", scenarios.walking_scenario(units="m"))
    assert main(["ingest", "c3d", str(folder), "--out", str(tmp_path / "S01"), "--vertical-axis", "z",
                 "--mass", "70", "--height", "1.7"]) == 0
    assert (tmp_path / "S01" / "static.trc").is_file()
    assert sorted(p.name for p in (tmp_path / "S01" / "trials").iterdir()) == ["walk_01", "walk_02"]


def test_bad_file_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "walk.c3d"
    bad.write_text("not a c3d" * 100)
    assert main(["ingest", "c3d", str(bad), "--out", str(tmp_path / "S01")]) == 2
    assert not (tmp_path / "S01").exists()


def test_folder_with_one_bad_file_converts_the_others_and_exits_1(scenarios, tmp_path, capsys):
    folder = tmp_path / "session"
    folder.mkdir()
    scenarios.write_c3d(folder / "walk_01.c3d", scenarios.walking_scenario())
    (folder / "walk_02.c3d").write_bytes(b"\x00" * 10)
    assert main(["ingest", "c3d", str(folder), "--out", str(tmp_path / "S01"), "--mass", "70", "--height", "1.7"]) == 1
    assert [p.name for p in (tmp_path / "S01" / "trials").iterdir()] == ["walk_01"]
    assert "FAILED  walk_02.c3d" in capsys.readouterr().out


def test_unknown_option_value_is_a_config_error(scenarios, tmp_path):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario())
    assert main(["ingest", "c3d", str(c3d), "--out", str(tmp_path / "S01"), "--vertical-axis", "up"]) == 2
    assert not (tmp_path / "S01").exists()


def test_without_mass_and_height_in_flags_or_file_the_error_names_the_options(scenarios, tmp_path, caplog):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario())
    assert main(["ingest", "c3d", str(c3d), "--out", str(tmp_path / "S01")]) == 2
    assert "subject.yaml: not written: no body mass (--mass KG) and height (--height M) given" in caplog.text
    assert not (tmp_path / "S01" / "subject.yaml").exists()
