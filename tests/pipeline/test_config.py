"""Pipeline configuration: documented defaults, strict YAML loading."""

from __future__ import annotations

import pytest

from gait2hip.pipeline.config import DEFAULT_CONFIG_PATH, PipelineConfig
from gait2hip.core.errors import ConfigError


def test_shipped_default_yaml_equals_the_code_defaults():
    assert PipelineConfig.from_yaml(DEFAULT_CONFIG_PATH) == PipelineConfig()


def test_defaults_follow_the_study_protocol():
    config = PipelineConfig()
    assert config.inverse_dynamics.lowpass_cutoff_hz == 6.0
    assert config.static_optimization.activation_exponent == 2.0
    assert config.static_optimization.use_muscle_physiology is True


def test_partial_yaml_keeps_other_defaults(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("static_optimization:\n  lowpass_cutoff_hz: 8\n")
    config = PipelineConfig.from_yaml(path)
    assert config.static_optimization.lowpass_cutoff_hz == 8.0
    assert config.inverse_dynamics.lowpass_cutoff_hz == 6.0


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("static_optimization:\n  activation_exponant: 2\n")
    with pytest.raises(ConfigError, match="static_optimization.activation_exponant"):
        PipelineConfig.from_yaml(path)


def test_wrong_type_is_named(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("inverse_dynamics:\n  lowpass_cutoff_hz: six\n")
    with pytest.raises(ConfigError, match="inverse_dynamics.lowpass_cutoff_hz: expected a number"):
        PipelineConfig.from_yaml(path)


def test_grf_force_sets_need_one_per_foot():
    with pytest.raises(ConfigError, match="exactly one 'r' and one 'l'"):
        PipelineConfig.from_dict({"grf": {"force_sets": [
            {"side": "r", "force_identifier": "a", "point_identifier": "b", "torque_identifier": "c"}]}})
