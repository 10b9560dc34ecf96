"""Marker-protocol auto-detection: scores, the choice, ties, and the error when nothing fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gait2hip.core.errors import InputDataError
from gait2hip.ingest.c3d_reader import read_c3d
from gait2hip.ingest.convert import convert_c3d_trial
from gait2hip.ingest.protocol_detection import choose_protocol, score_protocol
from gait2hip.ingest.protocols import load_protocol

REALDATA = Path(__file__).resolve().parents[1] / "data" / "realdata"
BIOMECHZOO_WALK = REALDATA / "biomechzoo" / "HC055A09.c3d"
AUC_WALK = REALDATA / "c3d_labs" / "AUC" / "CB_Dynamic0003.c3d"
PLUG_IN_GAIT_LOWER_BODY = ("RASI", "LASI", "RPSI", "LPSI", "RTHI", "LTHI", "RKNE", "LKNE", "RTIB", "LTIB",
                           "RANK", "LANK", "RHEE", "LHEE", "RTOE", "LTOE")


def _tracked(names: tuple[str, ...], n_frames: int = 3) -> np.ndarray:
    return np.ones((n_frames, len(names), 3))


def test_auto_reads_the_biomechzoo_walk_with_plug_in_gait():
    recording = read_c3d(BIOMECHZOO_WALK)
    choice = choose_protocol("auto", recording.marker_names, recording.marker_positions_m, BIOMECHZOO_WALK)
    assert choice.name == "plug_in_gait" and choice.how == "auto"
    # Plug-in Gait resolves the head band and shoulders, which the lab protocols do not map.
    assert choice.score.score > max(entry.score for entry in choice.ranking if entry.name != "plug_in_gait")


def test_auto_reads_the_auc_walk_with_the_auc_protocol():
    recording = read_c3d(AUC_WALK)
    choice = choose_protocol("auto", recording.marker_names, recording.marker_positions_m, AUC_WALK)
    assert choice.name == "auc"
    assert [entry.name for entry in choice.ranking if entry.fits] == ["auc"]  # no RTOE: Plug-in Gait cannot


def test_a_required_marker_counts_twice_in_the_score():
    protocol = load_protocol("plug_in_gait")
    base = score_protocol(protocol, PLUG_IN_GAIT_LOWER_BODY, _tracked(PLUG_IN_GAIT_LOWER_BODY), Path("walk.c3d"))
    with_optional = PLUG_IN_GAIT_LOWER_BODY + ("STRN",)
    optional = score_protocol(protocol, with_optional, _tracked(with_optional), Path("walk.c3d"))
    assert base.fits and optional.score == base.score + 1
    # 11 required model markers (pelvis 3; heels, toes, knees, ankles 2 each), 4 optional (wands).
    assert base.score == 2 * 11 + 4


def test_a_labelled_but_never_tracked_marker_does_not_resolve():
    positions = _tracked(PLUG_IN_GAIT_LOWER_BODY)
    positions[:, PLUG_IN_GAIT_LOWER_BODY.index("RHEE")] = np.nan
    score = score_protocol(load_protocol("plug_in_gait"), PLUG_IN_GAIT_LOWER_BODY, positions, Path("walk.c3d"))
    assert not score.fits and score.missing_required == ("R.Heel (RHEE, never tracked)",)


def test_a_tie_goes_to_the_protocol_leaving_fewer_mapped_markers_unresolved():
    # Plug-in Gait, FMC, MH and QCMAS all resolve the same 14 markers of a lower-body file;
    # MH maps the fewest markers beyond them.
    choice = choose_protocol("auto", PLUG_IN_GAIT_LOWER_BODY, _tracked(PLUG_IN_GAIT_LOWER_BODY), Path("walk.c3d"))
    assert choice.name == "mh"
    assert set(choice.tied_with) == {"fmc", "qcmas", "plug_in_gait"}


def test_a_lab_specific_marker_decides_between_equally_good_protocols():
    names = PLUG_IN_GAIT_LOWER_BODY + ("RMKNE", "LMKNE", "RMMAL", "LMMAL")
    choice = choose_protocol("auto", names, _tracked(names), Path("static.c3d"))
    assert choice.name == "qcmas" and choice.tied_with == ()


def test_when_no_protocol_fits_the_error_names_each_protocol_and_what_it_lacked():
    names = ("RASI", "LASI", "SACR", "RKNE", "LKNE", "RANK", "LANK")
    with pytest.raises(InputDataError) as error:
        choose_protocol("auto", names, _tracked(names), Path("walk.c3d"))
    message = error.value.problem
    assert message.startswith("no shipped marker protocol fits the file's labels")
    assert "plug_in_gait lacks R.Heel (RHEE), R.Toe.Med (RTOE), L.Heel (LHEE), L.Toe.Med (LTOE);" in message
    assert "auc lacks R.Heel (RHEE)" in message and "docs/marker_protocols.md" in message


def test_a_given_protocol_is_used_even_when_another_fits_better():
    recording = read_c3d(BIOMECHZOO_WALK)
    choice = choose_protocol("helen_hayes", recording.marker_names, recording.marker_positions_m, BIOMECHZOO_WALK)
    assert choice.name == "helen_hayes" and choice.how == "given" and choice.ranking == ()


def test_the_chosen_protocol_and_its_score_are_in_ingest_summary(scenarios, tmp_path):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario())
    result = convert_c3d_trial(c3d, tmp_path / "S01")
    summary = json.loads(result.paths["summary"].read_text())
    assert summary["protocol"] == "plug_in_gait"
    assert summary["protocol_choice"]["how"] == "auto"
    assert summary["protocol_choice"]["score"] == result.protocol.score.score
    assert summary["protocol_choice"]["ranking"][0]["protocol"] == "plug_in_gait"
