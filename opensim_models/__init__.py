"""Musculoskeletal models shipped with gait2hip and a tiny path API.

Each model lives in its own folder next to this file, with the ``.osim`` file,
the marker set used for scaling and IK, and a ``model.yaml`` that holds every
model-specific name the pipeline needs (input coordinates, hip coordinates,
foot bodies, scaling measurements, marker weights). Paths are resolved from
this package's location, so they work for editable and regular installs.
"""

from __future__ import annotations

from pathlib import Path

_MODELS_DIR = Path(__file__).resolve().parent


def available_models() -> list[str]:
    """Return the names of the models shipped with gait2hip (folders with a ``model.yaml``)."""
    return sorted(p.parent.name for p in _MODELS_DIR.glob("*/model.yaml"))


def model_dir(name: str) -> Path:
    """Return the folder of the shipped model ``name``.

    Raises
    ------
    KeyError
        If no shipped model has that name; the message lists the ones that exist.
    """
    folder = _MODELS_DIR / name
    if not (folder / "model.yaml").is_file():
        raise KeyError(f"no shipped OpenSim model named {name!r}; available: {available_models()}")
    return folder


def model_path(name: str = "gait2392") -> Path:
    """Return the ``.osim`` file of the shipped model ``name`` (default gait2392)."""
    return model_dir(name) / f"{name}.osim"


def marker_set_path(name: str = "gait2392") -> Path:
    """Return the marker-set XML used for scaling and IK with model ``name``."""
    return model_dir(name) / "markerset.xml"


def model_config_path(name: str = "gait2392") -> Path:
    """Return the ``model.yaml`` holding the model-specific names for ``name``."""
    return model_dir(name) / "model.yaml"
