"""Subject metadata (``subject.yaml``) as a validated dataclass."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gait2hip.core.config_loading import read_yaml_mapping
from gait2hip.core.errors import ConfigError, InputDataError

STANDARD_GRAVITY_M_PER_S2 = 9.80665
# Physical ranges of an adult or child walking subject: outside them a value is a typo or a
# unit slip (grams, centimetres), never a person.
MASS_RANGE_KG = (2.0, 500.0)
HEIGHT_RANGE_M = (0.4, 2.8)
SUBJECT_YAML_KEYS = ("id", "mass_kg", "height_m", "group", "affected_side")
_REQUIRED_KEYS = ("id", "mass_kg", "height_m")


@dataclass(frozen=True)
class SubjectInfo:
    """One subject: id, body mass (kg), standing height (m), group and affected side.

    Raises
    ------
    ValueError
        If the mass or height is not a number (a boolean is not one) within
        :data:`MASS_RANGE_KG` / :data:`HEIGHT_RANGE_M`, or the side is not r/l/None. The
        message names the key (``mass_kg``, ``height_m``, ``affected_side``).
    """

    subject_id: str
    mass_kg: float
    height_m: float
    group: str = "healthy"
    affected_side: str | None = None

    def __post_init__(self) -> None:
        _check_number(self.subject_id, "mass_kg", "body mass", self.mass_kg, MASS_RANGE_KG, "kg",
                      "give it in kg, not g or lb")
        _check_number(self.subject_id, "height_m", "height", self.height_m, HEIGHT_RANGE_M, "m",
                      "give it in metres, not mm or cm")
        if self.affected_side not in (None, "r", "l"):
            raise ValueError(f"subject {self.subject_id}: affected_side must be null, 'r' or 'l', got {self.affected_side!r}")

    @property
    def body_weight_n(self) -> float:
        """Body weight in N (mass × standard gravity)."""
        return self.mass_kg * STANDARD_GRAVITY_M_PER_S2

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SubjectInfo":
        """Read ``subject.yaml`` (keys: id, mass_kg, height_m, group, affected_side).

        Raises
        ------
        InputDataError
            Naming the file and the key: an unreadable file (not YAML, not UTF-8), a missing
            or unknown key, a value of the wrong type or outside its physical range.
        """
        path = Path(path)
        raw = read_metadata_yaml(path, SUBJECT_YAML_KEYS)
        missing = [key for key in _REQUIRED_KEYS if key not in raw]
        if missing:
            raise InputDataError(path, f"missing required key(s) {missing}")
        for key in ("id", "group"):
            value = raw.get(key)
            if key in raw and (isinstance(value, bool) or not isinstance(value, (str, int))):
                raise InputDataError(path, f"{key} must be text, got {value!r}")
        try:
            return cls(
                subject_id=str(raw["id"]),
                mass_kg=raw["mass_kg"],
                height_m=raw["height_m"],
                group=str(raw.get("group", "healthy")),
                affected_side=raw.get("affected_side"),
            )
        except ValueError as error:
            raise InputDataError(path, str(error)) from error


def read_metadata_yaml(path: Path, allowed_keys: tuple[str, ...]) -> dict[str, Any]:
    """Read a cohort metadata YAML (a mapping) and refuse keys outside ``allowed_keys``.

    Raises
    ------
    InputDataError
        Naming the file: missing, unreadable, not UTF-8, not YAML, not a mapping, or holding
        an unknown key (a typo such as ``mass: 70`` would otherwise be dropped silently).
    """
    try:
        raw = read_yaml_mapping(path)
    except ConfigError as error:
        raise InputDataError(path, str(error).removeprefix(f"{path}: ")) from error
    except OSError as error:
        raise InputDataError(path, f"cannot be read ({error.strerror or error})") from error
    unknown = sorted(str(key) for key in raw if key not in allowed_keys)
    if unknown:
        raise InputDataError(path, f"unknown key(s) {unknown}; allowed: {list(allowed_keys)}")
    return raw


def _check_number(subject_id: str, key: str, what: str, value: Any, limits: tuple[float, float], unit: str,
                  hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"subject {subject_id}: {key} ({what}) must be a number of {unit}, got {value!r}")
    low, high = limits
    if not low <= value <= high:
        raise ValueError(f"subject {subject_id}: {key} ({what}) {value!r} {unit} is outside {low:g}-{high:g} {unit}; "
                         f"{hint}")
