"""Build a subject's musculoskeletal model: generic gait2392 + markers, scaled, at its mass."""

from __future__ import annotations

from pathlib import Path

import opensim

from gait2hip import opensim_models
from gait2hip.virtual_lab.subjects import VirtualSubject


def build_subject_model(subject: VirtualSubject, out_path: Path, model_name: str = "gait2392") -> Path:
    """Write the subject's scaled model (markers attached, scaled with their bodies) to ``out_path``.

    Segments are scaled uniformly by ``subject.body_scale_factors()`` with OpenSim's
    ``Model.scale`` (mass distribution preserved, total mass set to the subject's).
    """
    model = opensim.Model(str(opensim_models.model_path(model_name)))
    markers = opensim.MarkerSet(str(opensim_models.marker_set_path(model_name)))
    for index in range(markers.getSize()):
        model.addMarker(markers.get(index).clone())
    model.finalizeConnections()
    state = model.initSystem()
    scale_set = opensim.ScaleSet()
    for body, factor in subject.body_scale_factors().items():
        scale = opensim.Scale()
        scale.setSegmentName(body)
        scale.setScaleFactors(opensim.Vec3(factor))
        scale.setApply(True)
        scale_set.cloneAndAppend(scale)
    model.scale(state, scale_set, True, subject.mass_kg)
    model.setName(subject.subject_id)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.printToXML(str(out_path))
    return out_path


def load_kinematic_model(model_path: Path) -> opensim.Model:
    """The model at ``model_path`` without its force elements: same bodies, joints and markers.

    The synthesis reads only kinematics, mass properties and momentum, which the muscles
    (massless) do not change: the same numbers to the bit (tested), and each realization of a
    state costs less (gait2392 has 92 muscles).
    """
    model = opensim.Model(str(model_path))
    model.updForceSet().clearAndDestroy()
    return model
