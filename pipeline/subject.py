"""Subject metadata (``subject.yaml``) as a validated dataclass."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from gait2hip.core.config_loading import read_yaml_mapping
from gait2hip.core.errors import ConfigError, InputDataError

STANDARD_GRAVITY_M_PER_S2 = 9.80665


@dataclass(frozen=True)
class SubjectInfo:
    """One subject: id, body mass (kg), standing height (m), group and affected side.

    Raises
    ------
    ValueError
        If the mass or height is not a positive finite number, or the side is not r/l/None.
    """

    subject_id: str
    mass_kg: float
    height_m: float
    group: str = "healthy"
    affected_side: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.mass_kg, (int, float)) and math.isfinite(self.mass_kg) and self.mass_kg > 0):
            raise ValueError(f"subject {self.subject_id}: body mass must be a positive number of kg, got {self.mass_kg!r}")
        if not (isinstance(self.height_m, (int, float)) and math.isfinite(self.height_m) and self.height_m > 0):
            raise ValueError(f"subject {self.subject_id}: height must be a positive number of m, got {self.height_m!r}")
        if self.height_m > 3.0:
            raise ValueError(f"subject {self.subject_id}: height {self.height_m} m is implausible; give it in metres, not mm or cm")
        if self.affected_side not in (None, "r", "l"):
            raise ValueError(f"subject {self.subject_id}: affected_side must be null, 'r' or 'l', got {self.affected_side!r}")

    @property
    def body_weight_n(self) -> float:
        """Body weight in N (mass × standard gravity)."""
        return self.mass_kg * STANDARD_GRAVITY_M_PER_S2

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SubjectInfo":
        """Read ``subject.yaml`` (keys: id, mass_kg, height_m, group, affected_side)."""
        path = Path(path)
        try:
            raw = read_yaml_mapping(path)
        except ConfigError as error:
            raise InputDataError(path, str(error)) from error
        missing = [key for key in ("id", "mass_kg", "height_m") if key not in raw]
        if missing:
            raise InputDataError(path, f"missing required key(s) {missing}")
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
