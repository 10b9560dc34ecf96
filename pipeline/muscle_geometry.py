"""Muscle moment arms and active capacities, frame by frame, from the OpenSim model.

A muscle's generalized force per newton of tension on mobility ``k`` is ``-∂L̇/∂u_k`` (virtual
power), the number ``Muscle.computeMomentArm`` returns for a coordinate whose speed is its
``qdot``. Asking for it pair by pair (``computeMomentArm``) re-solves the path for every (muscle,
coordinate) pair; setting ``u = e_k`` and reading every muscle's ``getLengtheningSpeed`` gives the
whole column at once, and coordinates that no muscle spans two of can share one velocity
evaluation: ``u`` is the sum of their unit vectors and each muscle feels only its own one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import opensim


@dataclass(frozen=True)
class SpeedGroups:
    """Which mobilities share one unit-speed velocity evaluation.

    Attributes
    ----------
    groups
        Tuples of mobility (``u``) indices; no muscle spans two mobilities of one group.
    spans
        ``(n_muscles, n_u)`` bool: muscle ``i`` may depend on mobility ``k`` (a superset, from the
        model's topology: the joints between the bodies its path touches).
    """

    groups: tuple[tuple[int, ...], ...]
    spans: np.ndarray


def coordinate_indices(model: opensim.Model, state: opensim.State) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return ``(names, q_index, u_index)`` of the model's coordinates in the coordinate set's order.

    Found by setting each coordinate on a zeroed copy of ``state`` and seeing which entry moves,
    so the mapping is the model's own, whatever its joint types.
    """
    coordinates = model.getCoordinateSet()
    probe = opensim.State(state)
    names, q_index, u_index = [], [], []
    for index in range(coordinates.getSize()):
        coordinate = coordinates.get(index)
        probe.setQ(opensim.Vector(probe.getNQ(), 0.0))
        probe.setU(opensim.Vector(probe.getNU(), 0.0))
        coordinate.setValue(probe, 0.5, False)
        coordinate.setSpeedValue(probe, 0.5)
        q_moved = np.flatnonzero(probe.getQ().to_numpy())
        u_moved = np.flatnonzero(probe.getU().to_numpy())
        if len(q_moved) != 1 or len(u_moved) != 1:
            raise ValueError(f"coordinate {coordinate.getName()} does not map to one q and one u entry")
        names.append(coordinate.getName())
        q_index.append(int(q_moved[0]))
        u_index.append(int(u_moved[0]))
    return names, np.asarray(q_index), np.asarray(u_index)


def find_speed_groups(model: opensim.Model, muscle_names: list[str], coordinate_u_index: dict[str, int],
                      n_u: int) -> SpeedGroups:
    """Group the mobilities spanned by muscles so that no muscle spans two of one group.

    A muscle's length depends only on the relative poses of the bodies its path points and wrap
    surfaces sit on (and on the coordinates that move its moving path points), so it spans the
    coordinates of the joints on the tree paths between those bodies.
    """
    parent_of = {}
    for joint in model.getJointList():
        child = joint.getChildFrame().findBaseFrame().getName()
        parent = joint.getParentFrame().findBaseFrame().getName()
        coordinates = [joint.get_coordinates(i).getName() for i in range(joint.numCoordinates())]
        parent_of[child] = (parent, coordinates)
    spans = np.zeros((len(muscle_names), n_u), dtype=bool)
    muscles = model.getMuscles()
    for row, name in enumerate(muscle_names):
        path = opensim.GeometryPath.safeDownCast(muscles.get(name).getPath())
        if path is None:
            raise ValueError(f"muscle {name} has no GeometryPath")
        bodies, extra = set(), set()
        points = path.getPathPointSet()
        for index in range(points.getSize()):
            point = points.get(index)
            bodies.add(point.getParentFrame().findBaseFrame().getName())
            moving = opensim.MovingPathPoint.safeDownCast(point)
            if moving is not None:
                for has, get in ((moving.hasXCoordinate, moving.getXCoordinate),
                                 (moving.hasYCoordinate, moving.getYCoordinate),
                                 (moving.hasZCoordinate, moving.getZCoordinate)):
                    if has():
                        extra.add(get().getName())
            conditional = opensim.ConditionalPathPoint.safeDownCast(point)
            if conditional is not None and conditional.hasCoordinate():
                extra.add(conditional.getCoordinate().getName())
        wraps = path.getWrapSet()
        for index in range(wraps.getSize()):
            bodies.add(wraps.get(index).getWrapObject().getFrame().findBaseFrame().getName())
        for coordinate in _coordinates_between(bodies, parent_of) | extra:
            spans[row, coordinate_u_index[coordinate]] = True
    groups: list[list[int]] = []
    for mobility in np.flatnonzero(spans.any(axis=0)):
        shares = spans[spans[:, mobility]]
        for group in groups:
            if not shares[:, group].any():
                group.append(int(mobility))
                break
        else:
            groups.append([int(mobility)])
    return SpeedGroups(tuple(tuple(group) for group in groups), spans)


def _coordinates_between(bodies: set[str], parent_of: dict[str, tuple[str, list[str]]]) -> set[str]:
    """Coordinates of the joints between ``bodies`` and their deepest common ancestor."""
    chains = {}
    for body in bodies:
        chain = [body]
        while chain[-1] in parent_of:
            chain.append(parent_of[chain[-1]][0])
        chains[body] = chain
    common = set.intersection(*(set(chain) for chain in chains.values()))
    coordinates = set()
    for chain in chains.values():
        for body in chain:
            if body in common:
                break
            coordinates.update(parent_of[body][1])
    return coordinates


class UnitSpeedMomentArms:
    """The moment-arm evaluation of :func:`generalized_forces_per_tension`, set up once for many frames.

    The unit-speed vector of each group (an ``opensim.Vector``), the muscles it is read for and
    where each muscle's lengthening speed goes are fixed by the model's topology, so they are built
    here once; a frame then costs one velocity realization per group and one
    ``getLengtheningSpeed`` per spanned (muscle, group) pair, the least this method can read.
    :meth:`readings` takes a frame's readings and :meth:`to_arms` places many frames' at once.
    """

    def __init__(self, model: opensim.Model, muscles: list, groups: SpeedGroups, n_u: int):
        self.model, self.n_muscles, self.n_u = model, len(muscles), n_u
        self._zero = opensim.Vector(n_u, 0.0)
        self._plan = []
        reading_of, muscle_of, mobility_of = [], [], []
        for group in groups.groups:
            speeds = np.zeros(n_u)
            speeds[list(group)] = 1.0
            rows = np.flatnonzero(groups.spans[:, group].any(axis=1))
            # The group's readings are rows' lengthening speeds; each goes to the mobilities of
            # the group that its muscle spans (one, since no muscle spans two of a group).
            for mobility in group:
                spanning = np.flatnonzero(groups.spans[rows, mobility])
                reading_of.extend(sum(len(plan[1]) for plan in self._plan) + spanning)
                muscle_of.extend(rows[spanning])
                mobility_of.extend([mobility] * len(spanning))
            self._plan.append((opensim.Vector.createFromMat(speeds), [muscles[row].getLengtheningSpeed for row in rows]))
        self.n_readings = sum(len(speeds) for _, speeds in self._plan)
        self._reading_of = np.asarray(reading_of, dtype=int)
        self._muscle_of = np.asarray(muscle_of, dtype=int)
        self._mobility_of = np.asarray(mobility_of, dtype=int)

    def readings(self, state: opensim.State) -> np.ndarray:
        """``(n_readings,)`` lengthening speeds (m/s) under each group's unit speeds at ``state``'s q; u is left zero."""
        values = []
        realize_velocity = self.model.realizeVelocity
        for speeds, lengthening_speed in self._plan:
            state.setU(speeds)
            realize_velocity(state)
            values.extend([speed(state) for speed in lengthening_speed])
        state.setU(self._zero)
        return np.asarray(values)

    def to_arms(self, readings: np.ndarray) -> np.ndarray:
        """``(n_frames, n_muscles, n_u)`` generalized force per newton of tension from ``(n_frames, n_readings)``."""
        arms = np.zeros((len(readings), self.n_muscles, self.n_u))
        arms[:, self._muscle_of, self._mobility_of] = -readings[:, self._reading_of]
        return arms

    def __call__(self, state: opensim.State) -> np.ndarray:
        """``(n_muscles, n_u)`` generalized force per newton of tension at ``state``'s q; u is left zero."""
        return self.to_arms(self.readings(state)[None])[0]


def generalized_forces_per_tension(model: opensim.Model, state: opensim.State, muscles: list,
                                   groups: SpeedGroups) -> np.ndarray:
    """``(n_muscles, n_u)`` generalized force per newton of tension (m or m/rad: the moment arms).

    ``state`` holds the frame's ``q`` (its ``u`` is overwritten and left zero). Entries outside
    ``groups.spans`` are zero. For many frames build :class:`UnitSpeedMomentArms` once instead.
    """
    return UnitSpeedMomentArms(model, muscles, groups, state.getNU())(state)


def moment_arms_reference(state: opensim.State, muscles: list, coordinates: list) -> np.ndarray:
    """``(n_muscles, n_coordinates)`` moment arms from ``Muscle.computeMomentArm``, pair by pair (slow)."""
    return np.array([[muscle.computeMomentArm(state, coordinate) for coordinate in coordinates]
                     for muscle in muscles])


def active_capacities(state: opensim.State, muscles: list) -> np.ndarray:
    """``(n_muscles,)`` active fibre force (N) at full activation, rigid tendon, at ``state``'s q and u.

    ``calcInextensibleTendonActiveFiberForce(state, 1)``: force–length × force–velocity × cos
    pennation, no passive fibre force; ``state`` must be realized to Velocity.
    """
    return np.array([muscle.calcInextensibleTendonActiveFiberForce(state, 1.0) for muscle in muscles])
