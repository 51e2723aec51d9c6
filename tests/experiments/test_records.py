"""Records are keyed by configuration + schema + version, reused when unchanged."""
import logging

import pandas as pd
import pytest

from compactnn.experiments import configs, records


def test_a_record_is_reused_for_the_same_configuration_and_recomputed_for_another(tmp_path, caplog):
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"format": ["ham", "sham"], "psi": [0.1, 0.05]})

    cfg = configs.SpaceConfig(shapes=[[8, 8]], densities=[1.0], ks=[2])
    with caplog.at_level(logging.INFO):
        a = records.cached("space", cfg, compute, tmp_path)
        b = records.cached("space", cfg, compute, tmp_path)
    assert len(calls) == 1 and a.equals(b)
    assert "computed" in caplog.text and "reused" in caplog.text
    records.cached("space", cfg.replace(seed=1), compute, tmp_path)
    assert len(calls) == 2
    meta, rows = records.read_record(records.record_dir("space", cfg, tmp_path))
    assert configs.from_dict(meta["config"]) == cfg and len(rows) == 2


def test_the_key_changes_with_the_schema_and_the_package_version(monkeypatch):
    cfg = configs.SpaceConfig()
    key = records.record_key(cfg)
    monkeypatch.setattr(records, "SCHEMA_VERSION", records.SCHEMA_VERSION + 1)
    assert records.record_key(cfg) != key
    monkeypatch.undo()
    monkeypatch.setattr(records, "__version__", "0.0.0-other")
    assert records.record_key(cfg) != key


def test_a_failed_computation_leaves_no_record(tmp_path):
    cfg = configs.TimeConfig(repeat=1)

    def boom():
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        records.cached("time", cfg, boom, tmp_path)
    assert not records.is_complete(records.record_dir("time", cfg, tmp_path))


def test_compress_config_rejects_a_method_without_its_parameters():
    with pytest.raises(ValueError, match="codebook size"):
        configs.CompressConfig(method="pr-cws", p=90)
    with pytest.raises(ValueError, match="target"):
        configs.CompressConfig(method="pr", p=90, target="everything")
    cfg = configs.CompressConfig(method="pr-pws", p=97, k=[32, 32, 2])
    assert cfg.k == (32, 32, 2) and hash(cfg) and "k32-32-2" in cfg.label()
