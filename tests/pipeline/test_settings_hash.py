"""The settings hash follows what the settings and model files say, never where they lie."""

from __future__ import annotations

import shutil

from gait2hip import opensim_models
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.settings_hash import hash_config


def test_a_copied_model_folder_hashes_like_the_shipped_model(tmp_path):
    copy = shutil.copytree(opensim_models.model_config_path("gait2392").parent, tmp_path / "somewhere" / "gait2392")
    assert hash_config(PipelineConfig(model=str(copy / "model.yaml"))) == hash_config(PipelineConfig())


def test_changing_the_model_file_content_changes_the_hash(tmp_path):
    copy = shutil.copytree(opensim_models.model_config_path("gait2392").parent, tmp_path / "gait2392")
    model_file = copy / "gait2392.osim"
    model_file.write_text(model_file.read_text() + "\n<!-- edited -->\n")
    assert hash_config(PipelineConfig(model=str(copy / "model.yaml"))) != hash_config(PipelineConfig())


def test_changing_a_setting_changes_the_hash():
    stricter = PipelineConfig.from_dict({"qc": {"marker_rms_error_warn_m": 0.01}})
    assert hash_config(stricter) != hash_config(PipelineConfig())
