"""Reading a model file, and walking its tree of bodies (which bodies lie beyond which)."""

from __future__ import annotations

from pathlib import Path

import opensim

from gait2hip.core.errors import InputDataError


def read_model(path: str | Path) -> opensim.Model:
    """Load an ``.osim`` with its connections finalised.

    Raises
    ------
    InputDataError
        If the file is missing or OpenSim cannot read it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(path, "scaled model not found (run scaling first)")
    try:
        model = opensim.Model(str(path))
    except Exception as error:  # OpenSim raises RuntimeError subclasses
        raise InputDataError(path, f"not a readable OpenSim model ({error})") from error
    model.finalizeConnections()
    return model


def bodies_beyond(model: opensim.Model, body: str) -> set[str]:
    """``body`` and every body whose path to ground passes through it (``calcn_r`` → its ``toes_r``).

    ``model``'s connections must be finalised.
    """
    children: dict[str, list[str]] = {}
    joints = model.getJointSet()
    for index in range(joints.getSize()):
        joint = joints.get(index)
        children.setdefault(joint.getParentFrame().findBaseFrame().getName(), []).append(
            joint.getChildFrame().findBaseFrame().getName())
    beyond, stack = set(), [body]
    while stack:
        current = stack.pop()
        if current not in beyond:
            beyond.add(current)
            stack.extend(children.get(current, []))
    return beyond


def marker_body(marker: opensim.Marker) -> str:
    """The body a marker is fixed to (through any offset frame)."""
    return marker.getParentFrame().findBaseFrame().getName()
