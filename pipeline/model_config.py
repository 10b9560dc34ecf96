"""Model-specific names (from a model's ``model.yaml``) as a typed dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gait2hip import opensim_models
from gait2hip.core.config_loading import read_yaml_mapping
from gait2hip.core.errors import ConfigError


@dataclass(frozen=True)
class ScaleMeasurement:
    """One scaling measurement: mean distance ratio of marker pairs, applied to bodies."""

    name: str
    marker_pairs: tuple[tuple[str, str], ...]
    bodies: tuple[str, ...]


@dataclass(frozen=True)
class MarkerWeight:
    """IK weight of one marker in the static (scaling) and dynamic (walking) trials."""

    static: float
    dynamic: float


@dataclass(frozen=True)
class ModelConfig:
    """Everything model-specific the pipeline needs; read from ``model.yaml``.

    Attributes
    ----------
    model_path, marker_set_path
        Absolute paths of the ``.osim`` model and its marker set XML.
    input_coordinates
        The surrogate inputs (10 for gait2392), in label-column order.
    hip_coordinates
        Coordinates whose ID moments are labels and which define "crosses the hip".
    foot_bodies
        ``{"r": body, "l": body}`` receiving each foot's GRF.
    """

    name: str
    model_path: Path
    marker_set_path: Path
    input_coordinates: tuple[str, ...]
    hip_coordinates: tuple[str, ...]
    pelvis_translations: tuple[str, ...]
    pelvis_rotations: tuple[str, ...]
    foot_bodies: dict[str, str]
    scale_measurements: tuple[ScaleMeasurement, ...]
    static_pose_coordinates: dict[str, float]
    marker_weights: dict[str, MarkerWeight]
    required_markers: dict[str, tuple[str, ...]]

    @property
    def pelvis_coordinates(self) -> tuple[str, ...]:
        """All six root coordinates (rotations then translations)."""
        return self.pelvis_rotations + self.pelvis_translations

    def markers_used(self, trial_kind: str) -> dict[str, float]:
        """Marker name → weight for ``trial_kind`` ``"static"`` or ``"dynamic"`` (weight > 0 only)."""
        weights = {name: getattr(w, trial_kind) for name, w in self.marker_weights.items()}
        return {name: weight for name, weight in weights.items() if weight > 0}

    def markers_required(self, trial_kind: str) -> list[str]:
        """Markers a ``"static"`` or ``"dynamic"`` trial must contain (the others are optional)."""
        return list(self.required_markers.get(trial_kind, ()))

    @classmethod
    def load(cls, model: str) -> "ModelConfig":
        """Load a shipped model by name, or a ``model.yaml`` by path."""
        if model.endswith((".yaml", ".yml")):
            yaml_path = Path(model).resolve()
        else:
            try:
                yaml_path = opensim_models.model_config_path(model)
            except KeyError as error:
                raise ConfigError(str(error.args[0])) from error
        raw = read_yaml_mapping(yaml_path)
        folder = yaml_path.parent
        try:
            return cls(
                name=str(raw["name"]),
                model_path=(folder / raw["model_file"]).resolve(),
                marker_set_path=(folder / raw["marker_set_file"]).resolve(),
                input_coordinates=tuple(raw["input_coordinates"]),
                hip_coordinates=tuple(raw["hip_coordinates"]),
                pelvis_translations=tuple(raw["pelvis_translations"]),
                pelvis_rotations=tuple(raw["pelvis_rotations"]),
                foot_bodies={side: str(body) for side, body in raw["foot_bodies"].items()},
                scale_measurements=tuple(
                    ScaleMeasurement(name, tuple(tuple(p) for p in m["marker_pairs"]), tuple(m["bodies"]))
                    for name, m in raw["scale_measurements"].items()
                ),
                static_pose_coordinates={k: float(v) for k, v in (raw.get("static_pose_coordinates") or {}).items()},
                marker_weights={
                    name: MarkerWeight(float(w["static"]), float(w["dynamic"]))
                    for name, w in raw["marker_weights"].items()
                },
                required_markers={kind: tuple(names) for kind, names in (raw.get("required_markers") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"{yaml_path}: missing or malformed entry ({error!r})") from error
