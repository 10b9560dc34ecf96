"""Plate contacts too short to be a stance are given to no foot (ingest/foot_assignment.py).

The scene: one plate at the origin, the right foot standing on it from 0.2 to 0.8 s (a
stance), and a 30 ms load spike at 1.5 s (a toe brushing the plate: what the MH lab's walk
shows, 14 ms and 59 ms brushes that became false heel strikes). The left foot is 0.4 m to
the side, so the COP is nearest the right foot throughout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gait2hip.ingest.force_plates import PlateLoads
from gait2hip.ingest.foot_assignment import assign_plates_to_feet, find_short_contacts

RATE_HZ = 1000.0
BODY_WEIGHT_N = 700.0
STANCE_S = (0.2, 0.8)
SPIKE_S = (1.5, 1.53)


def _scene() -> tuple[PlateLoads, np.ndarray, dict, dict]:
    times = np.arange(0.0, 2.0, 1 / RATE_HZ)
    loaded = ((times >= STANCE_S[0]) & (times < STANCE_S[1])) | ((times >= SPIKE_S[0]) & (times < SPIKE_S[1]))
    force = np.zeros((len(times), 3))
    force[loaded, 1] = BODY_WEIGHT_N
    plate = PlateLoads(number=1, force_n=force, moment_nm=np.zeros_like(force), centre_m=np.zeros(3),
                       normal=np.array([0.0, 1.0, 0.0]), loaded=loaded)
    marker_times = np.arange(0.0, 2.0, 0.01)
    heels = {"r": np.tile([-0.1, 0.0, 0.0], (len(marker_times), 1)), "l": np.tile([-0.1, 0.0, -0.4], (len(marker_times), 1))}
    toes = {"r": np.tile([0.1, 0.0, 0.0], (len(marker_times), 1)), "l": np.tile([0.1, 0.0, -0.4], (len(marker_times), 1))}
    return plate, times, marker_times, (heels, toes)


def _assign(min_contact_s: float):
    plate, times, marker_times, (heels, toes) = _scene()
    return assign_plates_to_feet([plate], times, marker_times, heels, toes, max_distance_m=0.25, min_agreement=0.8,
                                 threshold_n=20.0, source_path=Path("scene.c3d"), min_contact_s=min_contact_s)


def test_short_contact_is_given_to_no_foot():
    feet, contacts = _assign(min_contact_s=0.1)

    assert [(c.plate_number, c.side, round(c.start_s, 3)) for c in contacts] == [(1, "r", STANCE_S[0])]
    spike = (np.arange(0.0, 2.0, 1 / RATE_HZ) >= SPIKE_S[0]) & (np.arange(0.0, 2.0, 1 / RATE_HZ) < SPIKE_S[1])
    assert np.all(feet["r"].force_n[spike, 1] == 0.0)
    assert np.all(feet["l"].force_n[spike, 1] == 0.0)


def test_stance_keeps_its_load_when_a_short_contact_is_dropped():
    feet, _ = _assign(min_contact_s=0.1)

    times = np.arange(0.0, 2.0, 1 / RATE_HZ)
    stance = (times >= STANCE_S[0]) & (times < STANCE_S[1])
    np.testing.assert_allclose(feet["r"].force_n[stance, 1], BODY_WEIGHT_N)


def test_zero_minimum_keeps_every_contact():
    _, contacts = _assign(min_contact_s=0.0)

    assert [(c.side, round(c.start_s, 3)) for c in contacts] == [("r", STANCE_S[0]), ("r", SPIKE_S[0])]


def test_short_contacts_are_listed_with_their_duration():
    plate, times, _, _ = _scene()

    short = find_short_contacts([plate], times, min_contact_s=0.1)

    assert [(c.plate_number, round(c.start_s, 3)) for c in short] == [(1, SPIKE_S[0])]
    assert short[0].duration_s == pytest.approx(SPIKE_S[1] - SPIKE_S[0], abs=1.5 / RATE_HZ)
    assert "dropped" in short[0].to_json()["note"]
