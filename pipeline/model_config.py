"""Model-specific names (from a model's ``model.yaml``) as a typed dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait2hip import opensim_models
from gait2hip.core.config_loading import read_yaml_mapping
from gait2hip.core.errors import ConfigError
from gait2hip.pipeline.hip_joint_centre import HipJointCentreMarkers

AXES = ("X", "Y", "Z")
# OpenSim's example setups hold coordinates with weight 1000 (gait2392 Setup_Scale / Setup_IK).
DEFAULT_COORDINATE_TASK_WEIGHT = 1000.0


@dataclass(frozen=True)
class ScaleMeasurement:
    """One scaling measurement: mean distance ratio of marker pairs, applied to bodies along ``axes``.

    ``fallback_marker_pairs`` are used only when the static trial has none of ``marker_pairs``
    (a lower-body lab protocol without head markers, say); with none of those either, the
    bodies take the factors of the measurement ``fallback_measurement`` names.
    """

    name: str
    marker_pairs: tuple[tuple[str, str], ...]
    bodies: tuple[str, ...]
    axes: tuple[str, ...] = AXES
    fallback_marker_pairs: tuple[tuple[str, str], ...] = ()
    fallback_measurement: str | None = None


@dataclass(frozen=True)
class CoordinateTarget:
    """A coordinate held near ``value`` by an IK coordinate task.

    ``value`` is in degrees for a rotational coordinate and in m for a translational one.
    """

    value: float
    weight: float = DEFAULT_COORDINATE_TASK_WEIGHT


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
    scale_measurements
        Measurement-based scaling, applied first.
    manual_scale_factors
        Body → ``(x, y, z)`` factors applied after the measurements (they replace a
        measurement's factors for that body).
    static_pose_coordinates, walking_ik_coordinates
        Coordinates held by IK coordinate tasks in the static pose (marker placement and the
        scaling fit) and in walking IK.
    label_signs
        Coordinate → ``-1`` for each input or hip coordinate whose positive direction is the
        opposite of the label convention (gait2392's; docs/labels.md "Sign conventions"): its
        angle and moment label columns are negated (``gait2hip.pipeline.sign_conventions``).
        Coordinates not named have sign ``+1``.
    technical_markers
        Markers of the marker set that mark no bony landmark (wands, clusters): the markers
        ``marker_registration`` may move on their bodies to fit the walking trial.
    generic_height_m
        Standing height (m) of the subject the generic model represents, for
        ``scale.muscle_strength: muscle_volume``; None when ``model.yaml`` does not say.
    hip_joint_centre
        The pelvis markers and hip joints for ``scale.hip_joint_centre: harrington2007``; None
        when ``model.yaml`` does not name them.
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
    static_pose_coordinates: dict[str, CoordinateTarget]
    marker_weights: dict[str, MarkerWeight]
    required_markers: dict[str, tuple[str, ...]]
    walking_ik_coordinates: dict[str, CoordinateTarget]
    manual_scale_factors: dict[str, tuple[float, float, float]]
    label_signs: dict[str, int] = field(default_factory=dict)
    technical_markers: tuple[str, ...] = ()
    generic_height_m: float | None = None
    hip_joint_centre: HipJointCentreMarkers | None = None

    def label_sign(self, coordinate: str) -> int:
        """``+1`` or ``-1``: the factor taking ``coordinate``'s model sign to the label convention."""
        return self.label_signs.get(coordinate, 1)

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
        yaml_path = model_yaml_path(model)
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
                scale_measurements=tuple(_measurement(name, entry, yaml_path)
                                         for name, entry in raw["scale_measurements"].items()),
                static_pose_coordinates=_coordinate_targets(raw.get("static_pose_coordinates"),
                                                            "static_pose_coordinates", yaml_path),
                marker_weights={
                    name: MarkerWeight(float(w["static"]), float(w["dynamic"]))
                    for name, w in raw["marker_weights"].items()
                },
                required_markers={kind: tuple(names) for kind, names in (raw.get("required_markers") or {}).items()},
                walking_ik_coordinates=_coordinate_targets(raw.get("walking_ik_coordinates"),
                                                           "walking_ik_coordinates", yaml_path),
                manual_scale_factors={str(body): _three_factors(value, body, yaml_path)
                                      for body, value in (raw.get("manual_scale_factors") or {}).items()},
                label_signs=_label_signs(raw.get("label_signs"), tuple(raw["input_coordinates"]) +
                                         tuple(raw["hip_coordinates"]), yaml_path),
                technical_markers=tuple(str(name) for name in raw.get("technical_markers") or ()),
                generic_height_m=float(raw["generic_height_m"]) if raw.get("generic_height_m") is not None else None,
                hip_joint_centre=_hip_joint_centre(raw.get("hip_joint_centre"), yaml_path),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ConfigError(f"{yaml_path}: missing or malformed entry ({error!r})") from error

    def check_names(self, yaml_path: Path) -> None:
        """Check every body, coordinate and marker ``yaml_path`` names against the model and marker set.

        Raises
        ------
        ConfigError
            Naming the key, the name and what it should have been found in (a misspelt body in
            ``scale_measurements`` would otherwise be skipped silently by OpenSim, and marker
            weights naming absent markers end in OpenSim's "Model has no markers!").
        """
        import opensim  # here: reading model.yaml alone must not need OpenSim

        model = opensim.Model(str(self.model_path))
        bodies = _names(model.getBodySet())
        coordinates = _names(model.getCoordinateSet())
        markers = _names(opensim.MarkerSet(str(self.marker_set_path)))
        model_file = self.model_path.name
        checks = [
            ("input_coordinates", self.input_coordinates, coordinates, f"coordinate of {model_file}"),
            ("hip_coordinates", self.hip_coordinates, coordinates, f"coordinate of {model_file}"),
            ("pelvis_translations", self.pelvis_translations, coordinates, f"coordinate of {model_file}"),
            ("pelvis_rotations", self.pelvis_rotations, coordinates, f"coordinate of {model_file}"),
            ("static_pose_coordinates", self.static_pose_coordinates, coordinates, f"coordinate of {model_file}"),
            ("walking_ik_coordinates", self.walking_ik_coordinates, coordinates, f"coordinate of {model_file}"),
            ("foot_bodies", self.foot_bodies.values(), bodies, f"body of {model_file}"),
            ("manual_scale_factors", self.manual_scale_factors, bodies, f"body of {model_file}"),
            ("marker_weights", self.marker_weights, markers, f"marker of {self.marker_set_path.name}"),
            ("technical_markers", self.technical_markers, markers, f"marker of {self.marker_set_path.name}"),
        ]
        if self.hip_joint_centre is not None:
            spec = self.hip_joint_centre
            checks.append(("hip_joint_centre", spec.pelvis_markers + tuple(spec.knee_markers.values()), markers,
                           f"marker of {self.marker_set_path.name}"))
            checks.append(("hip_joint_centre.joints", spec.joints.values(), _names(model.getJointSet()),
                           f"joint of {model_file}"))
            checks.append(("hip_joint_centre.thigh_measurement", [spec.thigh_measurement],
                           {m.name for m in self.scale_measurements}, "scale_measurements entry"))
            taken = [name for name in spec.hip_markers.values() if name in markers]
            if taken:
                raise ConfigError(f"{yaml_path}: hip_joint_centre.hip_markers names {', '.join(map(repr, taken))}, "
                                  f"already a marker of {self.marker_set_path.name}; name new virtual markers")
        for kind, names in self.required_markers.items():
            checks.append((f"required_markers.{kind}", names, markers, f"marker of {self.marker_set_path.name}"))
        measurement_names = {m.name for m in self.scale_measurements}
        for measurement in self.scale_measurements:
            key = f"scale_measurements.{measurement.name}"
            if measurement.fallback_measurement is not None and (
                    measurement.fallback_measurement not in measurement_names
                    or measurement.fallback_measurement == measurement.name):
                raise ConfigError(f"{yaml_path}: {key}.fallback_measurement names {measurement.fallback_measurement!r}, "
                                  f"not another of the scale_measurements ({', '.join(sorted(measurement_names))})")
            checks.append((f"{key}.bodies", measurement.bodies, bodies, f"body of {model_file}"))
            checks.append((f"{key}.marker_pairs", [n for pair in measurement.marker_pairs for n in pair], markers,
                           f"marker of {self.marker_set_path.name}"))
            checks.append((f"{key}.fallback_marker_pairs",
                           [n for pair in measurement.fallback_marker_pairs for n in pair], markers,
                           f"marker of {self.marker_set_path.name}"))
        for key, names, known, what in checks:
            unknown = [name for name in names if name not in known]
            if unknown:
                raise ConfigError(f"{yaml_path}: {key} names {', '.join(repr(n) for n in unknown)}, "
                                  f"not a {what}")


def model_yaml_path(model: str) -> Path:
    """The ``model.yaml`` of a shipped model name, or ``model`` itself when it is a YAML path."""
    if model.endswith((".yaml", ".yml")):
        return Path(model).resolve()
    try:
        return opensim_models.model_config_path(model)
    except KeyError as error:
        raise ConfigError(str(error.args[0])) from error


def _names(object_set: Any) -> set[str]:
    return {object_set.get(i).getName() for i in range(object_set.getSize())}


def _measurement(name: str, entry: dict, yaml_path: Path) -> ScaleMeasurement:
    axes = tuple(str(axis).upper() for axis in entry.get("axes", AXES))
    if not axes or any(axis not in AXES for axis in axes) or len(set(axes)) != len(axes):
        raise ConfigError(f"{yaml_path}: scale_measurements.{name}.axes must be distinct axes among X, Y, Z; "
                          f"got {entry.get('axes')!r}")
    pairs = tuple(tuple(pair) for pair in entry["marker_pairs"])
    fallback = tuple(tuple(pair) for pair in entry.get("fallback_marker_pairs") or ())
    if any(len(pair) != 2 for pair in pairs + fallback):
        raise ConfigError(f"{yaml_path}: scale_measurements.{name}.marker_pairs and fallback_marker_pairs must be "
                          "pairs of marker names")
    fallback_measurement = entry.get("fallback_measurement")
    return ScaleMeasurement(name, pairs, tuple(entry["bodies"]), axes, fallback,
                            None if fallback_measurement is None else str(fallback_measurement))


def _coordinate_targets(raw: Any, key: str, yaml_path: Path) -> dict[str, CoordinateTarget]:
    """``{name: value}`` or ``{name: {value: v, weight: w}}`` → coordinate targets."""
    targets = {}
    for name, entry in (raw or {}).items():
        if isinstance(entry, dict):
            target = CoordinateTarget(float(entry["value"]), float(entry.get("weight", DEFAULT_COORDINATE_TASK_WEIGHT)))
        else:
            target = CoordinateTarget(float(entry))
        if not target.weight > 0:
            raise ConfigError(f"{yaml_path}: {key}.{name}.weight must be positive; got {target.weight:g}")
        targets[str(name)] = target
    return targets


def _label_signs(raw: Any, coordinates: tuple[str, ...], yaml_path: Path) -> dict[str, int]:
    """``{coordinate: 1 or -1}`` for input or hip coordinates; only the ``-1`` entries are kept."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{yaml_path}: label_signs must map coordinate names to 1 or -1; got {raw!r}")
    signs = {}
    for name, sign in raw.items():
        if name not in coordinates:
            raise ConfigError(f"{yaml_path}: label_signs names {name!r}, which is neither an input nor a hip "
                              f"coordinate (input_coordinates / hip_coordinates)")
        # bool is an int in Python; `true` in YAML is not a sign.
        if isinstance(sign, bool) or sign not in (1, -1):
            raise ConfigError(f"{yaml_path}: label_signs.{name} must be 1 or -1; got {sign!r}")
        if sign == -1:
            signs[str(name)] = -1
    return signs


def _hip_joint_centre(raw: Any, yaml_path: Path) -> HipJointCentreMarkers | None:
    """The ``hip_joint_centre`` mapping → its markers, joints and thigh measurement."""
    if raw is None:
        return None
    keys = {"right_asis", "left_asis", "sacrum", "joints", "hip_markers", "thigh_measurement", "knee_markers"}
    if not isinstance(raw, dict) or not keys <= set(raw):
        raise ConfigError(f"{yaml_path}: hip_joint_centre needs {', '.join(sorted(keys))}; got {raw!r}")
    sacrum = raw["sacrum"]
    sacrum = (str(sacrum),) if isinstance(sacrum, str) else tuple(str(name) for name in sacrum)
    if not sacrum:
        raise ConfigError(f"{yaml_path}: hip_joint_centre.sacrum must name at least one marker")
    sides = {}
    for key in ("joints", "hip_markers", "knee_markers"):
        if not isinstance(raw[key], dict) or set(raw[key]) != {"r", "l"}:
            raise ConfigError(f"{yaml_path}: hip_joint_centre.{key} must map sides r and l to names; got {raw[key]!r}")
        sides[key] = {side: str(name) for side, name in raw[key].items()}
    return HipJointCentreMarkers(str(raw["right_asis"]), str(raw["left_asis"]), sacrum, sides["joints"],
                                 sides["hip_markers"], str(raw["thigh_measurement"]), sides["knee_markers"])


def _three_factors(value: Any, body: str, yaml_path: Path) -> tuple[float, float, float]:
    """One factor for all axes, or ``[x, y, z]``."""
    factors = [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(factors) != 3 or not all(f > 0 for f in factors):
        raise ConfigError(f"{yaml_path}: manual_scale_factors.{body} must be a positive factor or three "
                          f"[x, y, z]; got {value!r}")
    return factors[0], factors[1], factors[2]
