"""Ground reaction forces consistent with the motion, from whole-body dynamics.

The total external wrench follows from Newton–Euler for the whole body: with L and H the
linear and angular momentum about the ground origin (OpenSim's
``calcSystemMomentumAboutGroundOrigin``) and M the body mass,

    F_ext = dL/dt − M g,        M_ext = dH/dt − r_com × M g.

It is shared between the feet by contact phase: all of it on the single-support foot, a
smooth (cosine) transfer from the trailing to the leading foot in double support. The centre
of pressure of the total wrench on the floor (y = 0) follows from M_ext; in double support
each foot's COP is placed so that the load-weighted mean is that point, then each COP is
kept inside its foot (heel to toe, ±4 cm across). The free moment about the vertical carries
the rest of the vertical moment. Whatever clamping removes shows up as a residual moment.

The model has no arms, and a person's plates measure the person's free moment: people swing
their arms against their legs, and the arms carry most of the legs' angular momentum about the
vertical (Herr & Popovic 2008, J Exp Biol 211:467; Collins, Adamczyk & Kuo 2009, Proc R Soc B
276:3679). The free moment the armless model's motion needs is several times what plates
measure under people; ``arm_swing_share`` of it is left to the arms, which ID on the armless
model then sees as a pelvis residual moment about the vertical, as it does on measured walks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import opensim
from scipy.interpolate import CubicSpline

from gait2hip.virtual_lab.balance import centre_of_pressure
from gait2hip.virtual_lab.kinematics import right_foot_share
from gait2hip.virtual_lab.model_poses import default_state, pose_matrix

STANDARD_GRAVITY_M_PER_S2 = 9.80665
FOOT_HALF_WIDTH_M = 0.04
# Rounds of clamping and redistribution of the split of the total COP between the feet.
SPLIT_ROUNDS = 20


@dataclass(frozen=True)
class GroundReactionForces:
    """Per-foot GRF on ``times_s``: force (N), centre of pressure (m), free moment (Nm), ground frame."""

    times_s: np.ndarray
    force_n: dict[str, np.ndarray]            # side → (n, 3)
    centre_of_pressure_m: dict[str, np.ndarray]  # side → (n, 3), y = 0
    free_moment_nm: dict[str, np.ndarray]     # side → (n, 3), only y non-zero
    clamped_moment_nm: float                  # largest moment lost to keeping the COP in the foot


@dataclass(frozen=True)
class ExternalWrench:
    """What the ground must supply for a motion, on its frames.

    Attributes
    ----------
    force_n
        ``(n, 3)`` total external force (N).
    moment_nm
        ``(n, 3)`` total external moment about the ground origin (Nm).
    centre_of_mass_m
        ``(n, 3)`` whole-body centre of mass (m).
    mass_kg
        Body mass (kg).
    """

    force_n: np.ndarray
    moment_nm: np.ndarray
    centre_of_mass_m: np.ndarray
    mass_kg: float


def total_external_wrench(model: opensim.Model, times_s: np.ndarray,
                          coordinates: dict[str, np.ndarray]) -> ExternalWrench:
    """The wrench the ground must supply for ``coordinates`` (name → ``(n,)`` rad, m) on ``times_s``.

    The momentum is computed on every frame and its spline derivative taken.
    """
    state = default_state(model)
    q = pose_matrix(model, state, coordinates, default_q=np.zeros(state.getNQ()))
    u = joint_speeds(times_s, q)
    linear, angular, com = (np.zeros((len(times_s), 3)) for _ in range(3))
    for frame in range(len(times_s)):
        state.setQ(opensim.Vector.createFromMat(q[frame]))
        state.setU(opensim.Vector.createFromMat(u[frame]))
        model.realizeVelocity(state)
        linear[frame], angular[frame], com[frame] = system_momentum(model, state)
    return wrench_from_momentum(times_s, np.arange(len(times_s)), linear, angular, com, model.getTotalMass(state))


def joint_speeds(times_s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Generalized speeds ``(n, n_u)`` of the poses ``q`` ``(n, n_q)`` on ``times_s``: the spline derivative.

    Every joint of gait2392 has u = q̇.
    """
    return CubicSpline(times_s, q).derivative()(times_s)


def system_momentum(model: opensim.Model, state: opensim.State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At ``state`` (realized to velocity): linear momentum (kg m/s), angular momentum about the
    ground origin (kg m²/s) and the centre of mass (m), each ``(3,)``."""
    momentum = model.getMatterSubsystem().calcSystemMomentumAboutGroundOrigin(state)
    return momentum.get(1).to_numpy(), momentum.get(0).to_numpy(), model.calcMassCenterPosition(state).to_numpy()


def wrench_from_momentum(times_s: np.ndarray, sampled: np.ndarray, linear: np.ndarray, angular: np.ndarray,
                         centre_of_mass: np.ndarray, mass_kg: float) -> ExternalWrench:
    """The external wrench on every frame of ``times_s`` from the momentum on its frames ``sampled``.

    ``linear``, ``angular`` (about the ground origin) and ``centre_of_mass`` are ``(len(sampled), 3)``
    (kg m/s, kg m²/s, m); cubic splines through them give the centre of mass and the
    momentum's rates of change on every frame.
    """
    gravity = np.array([0.0, -STANDARD_GRAVITY_M_PER_S2, 0.0])
    at = times_s[sampled]
    com = CubicSpline(at, centre_of_mass)(times_s)
    force = CubicSpline(at, linear).derivative()(times_s) - mass_kg * gravity
    moment = CubicSpline(at, angular).derivative()(times_s) - np.cross(com, mass_kg * gravity)
    return ExternalWrench(force, moment, com, mass_kg)


def share_between_feet(times_s: np.ndarray, force: np.ndarray, moment: np.ndarray, stride_time_s: float,
                       stance_fraction: dict[str, float], foot_points: dict[str, tuple[np.ndarray, np.ndarray]],
                       keep_cop_in_foot: bool = True, arm_swing_share: float = 0.0) -> GroundReactionForces:
    """Split the total wrench between the feet by contact phase.

    ``foot_points[side] = (heel (n, 3), toe (n, 3))`` ground positions that bound the COP when
    ``keep_cop_in_foot``; otherwise each COP is where the dynamics put it, so the GRFs explain
    the motion exactly, even where the COP leaves the foot. In double support the dynamics fix
    only the load-weighted mean of the two COPs; the split keeps each inside its foot where
    that mean allows it (:func:`_split_inside_feet`), the total wrench unchanged.
    ``arm_swing_share`` (0–1) of the free moment about the vertical is left to the arms the
    model lacks (module docstring); forces and centres of pressure are the wrench's either way.
    """
    if not 0.0 <= arm_swing_share <= 1.0:
        raise ValueError(f"arm_swing_share must be between 0 and 1, got {arm_swing_share}")
    share_r = right_foot_share(times_s, stride_time_s, stance_fraction)
    shares = {"r": share_r, "l": 1.0 - share_r}
    centre = centre_of_pressure(force, moment)
    foot_centre = {side: 0.5 * (heel + toe) for side, (heel, toe) in foot_points.items()}
    offset = foot_centre["r"] - foot_centre["l"]
    offset[:, 1] = 0.0
    targets = {"r": centre + (1.0 - share_r)[:, None] * offset, "l": centre - share_r[:, None] * offset}
    targets = _split_inside_feet(centre, shares, targets, foot_points)
    forces, pressures, free, lost = {}, {}, {}, np.zeros(len(times_s))
    for side in "rl":
        forces[side] = shares[side][:, None] * force
        pressures[side] = _clamp_to_foot(targets[side], *foot_points[side]) if keep_cop_in_foot else targets[side]
        lost = np.maximum(lost, shares[side] * np.linalg.norm((pressures[side] - targets[side])[:, [0, 2]], axis=1)
                          * np.abs(force[:, 1]))
    moment_from_forces = sum(np.cross(pressures[side], forces[side]) for side in "rl")
    free_total = (1.0 - arm_swing_share) * (moment[:, 1] - moment_from_forces[:, 1])
    for side in "rl":
        free[side] = np.zeros((len(times_s), 3))
        free[side][:, 1] = shares[side] * free_total
    return GroundReactionForces(times_s, forces, pressures, free, float(lost.max()))


def _split_inside_feet(centre: np.ndarray, shares: dict[str, np.ndarray], first: dict[str, np.ndarray],
                       foot_points: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each foot's COP ``(n, 3)`` m, kept inside its outline where the total COP allows it.

    In double support the whole-body dynamics fix only the total COP ``centre``, the feet's
    COPs weighted by their load ``shares``; the split ``first`` (each foot's COP the same
    offset from its foot centre) can leave one foot's COP outside its outline while the other
    foot has room. Each round clamps both COPs into their outlines (:func:`_clamp_to_foot`) and
    hands what the clamping took from the total to both feet; whatever remains after
    :data:`SPLIT_ROUNDS` rounds (a total COP outside what the feet can reach together) is
    handed to both feet as in ``first``, so the weighted sum stays exactly ``centre``. In single
    support the loaded foot's COP is ``centre`` whatever it is.
    """
    double = np.flatnonzero((shares["r"] > 0.0) & (shares["r"] < 1.0))
    pressures = {side: first[side][double] for side in "rl"}
    for _ in range(SPLIT_ROUNDS):
        pressures = {side: _clamp_to_foot(pressures[side], *(points[double] for points in foot_points[side]))
                     for side in "rl"}
        missing = centre[double] - sum(shares[side][double, None] * pressures[side] for side in "rl")
        missing[:, 1] = 0.0
        pressures = {side: pressures[side] + missing for side in "rl"}
    split = {side: first[side].copy() for side in "rl"}
    for side in "rl":
        split[side][double] = pressures[side]
    return split


def _clamp_to_foot(points: np.ndarray, heel: np.ndarray, toe: np.ndarray) -> np.ndarray:
    """Project each point onto the foot's floor rectangle (heel–toe segment, ±4 cm across)."""
    axis = toe - heel
    axis[:, 1] = 0.0
    length = np.linalg.norm(axis, axis=1, keepdims=True)
    along_unit = axis / np.maximum(length, 1e-9)
    across_unit = np.column_stack([-along_unit[:, 2], np.zeros(len(points)), along_unit[:, 0]])
    base = heel.copy()
    base[:, 1] = 0.0
    relative = points - base
    along = np.clip(np.sum(relative * along_unit, axis=1), 0.0, length[:, 0])
    across = np.clip(np.sum(relative * across_unit, axis=1), -FOOT_HALF_WIDTH_M, FOOT_HALF_WIDTH_M)
    return base + along[:, None] * along_unit + across[:, None] * across_unit
