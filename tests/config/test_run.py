import subprocess
import sys

import pytest
import yaml

from ppi.config.run import (
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
    model_count,
    one_model,
)
from ppi.errors import ConfigError


def test_defaults_are_the_quick_start():
    cfg = load_config()
    assert cfg.task == "pair"
    assert cfg.backbone.name == "scratch"
    # the pair model on unseen proteins (RESULTS.md): no sequence transformer, UniRep vectors
    assert cfg.channels["sequence"].enabled is False
    assert cfg.channels["properties"].pretrained == "unirep-1900"
    assert cfg.data.train == "example:guo_yeast/pairs.tsv"


def test_overrides_parse_types_and_nested_keys():
    cfg = load_config(
        None,
        [
            "train.epochs=3",
            "train.lr=1e-4",
            "fusion.spectral_norm=true",
            "channels.sequence.train_crop=128",
            "train.log_with=[]",
        ],
    )
    assert cfg.train.epochs == 3
    assert cfg.train.lr == pytest.approx(1e-4)
    assert cfg.fusion.spectral_norm is True
    assert cfg.channels["sequence"].train_crop == 128
    assert cfg.train.log_with == ()


def test_yaml_file_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 9\n  batch_size: 8\nbackbone:\n  name: scratch\n  dim: 32\n")
    cfg = load_config(path, ["train.epochs=2"])
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.backbone.dim) == (2, 8, 32)


def test_unknown_key_names_key_and_valid_keys():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["train.epoch=3"])
    msg = str(err.value)
    assert "train.epoch" in msg and "epochs" in msg and "batch_size" in msg


def test_bad_value_and_bad_choice():
    with pytest.raises(ConfigError, match="train.epochs: expected an integer, got 'many'"):
        load_config(None, ["train.epochs=many"])
    with pytest.raises(ConfigError, match="task: expected one of pair, single, got 'triple'"):
        load_config(None, ["task=triple"])


def test_unknown_backbone_and_channel_list_choices():
    with pytest.raises(ConfigError, match=r"Unknown backbone 'esm3' \(choices: .*scratch"):
        load_config(None, ["backbone.name=esm3"])
    with pytest.raises(
        ConfigError, match=r"Unknown channel 'channels.sequnce' \(choices: .*sequence"
    ):
        load_config(None, ["channels.sequnce.enabled=true"])


def test_switching_backbone_keeps_only_its_keys():
    cfg = load_config(None, ["backbone.name=scratch", "backbone.layers=3"])
    assert cfg.backbone.layers == 3
    with pytest.raises(ConfigError, match="backbone.layers"):
        load_config(None, ["backbone.name=esm2", "backbone.layers=3"])


def test_missing_config_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_round_trip_through_dict_and_yaml(tmp_path):
    cfg = load_config(None, ["train.epochs=4", "backbone.dim=32"])
    assert config_from_dict(config_to_dict(cfg)) == cfg
    path = tmp_path / "dump.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


def test_configs_are_frozen():
    cfg = load_config()
    with pytest.raises(AttributeError):
        cfg.train.epochs = 1


def test_interolog_evidence_is_on_by_default_but_off_for_folders_saved_without_it(tmp_path):
    assert load_config(None, []).evidence["interolog"].enabled
    saved = config_to_dict(load_config(None, []))
    saved.pop("evidence")  # a folder written before the evidence registry existed
    assert not config_from_dict(saved).evidence["interolog"].enabled
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    assert not load_config(None, [f"resume={run}"]).evidence["interolog"].enabled
    # a saved config that says what it used is read as written
    saved["evidence"] = {"interolog": {"enabled": True}}
    assert config_from_dict(saved).evidence["interolog"].enabled


def test_reading_the_default_config_imports_no_model_library():
    """Each component's config lives in a light ``configs.py``: no torch, FAISS, PyG."""
    heavy = ("torch", "torch_geometric", "faiss", "esm", "transformers", "pyhmmer", "sklearn")
    code = (
        "import sys\nfrom ppi.config import Config, dump_config\ndump_config(Config())\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_defaults_that_changed_keep_their_old_value_in_folders_saved_without_them():
    saved = config_to_dict(load_config(None, []))
    saved["channels"]["properties"].pop("pretrained")
    saved["evidence"].pop("neighbours")
    saved["channels"]["sequence"].pop("enabled")
    saved["train"].pop("ema")
    saved["train"].pop("members")
    old = config_from_dict(saved)
    # as trained then: no UniRep vectors, no neighbour evidence, the sequence channel on
    assert old.channels["properties"].pretrained == ""
    assert not old.evidence["neighbours"].enabled
    assert old.channels["sequence"].enabled
    assert old.train.ema == 0.0  # trained with the raw weights
    assert old.train.members == 1  # one model, not the ensemble of today's default
    # today's defaults are otherwise; a folder that wrote the keys is read as written
    new = config_from_dict(config_to_dict(load_config(None, [])))
    assert new.channels["properties"].pretrained == "unirep-1900"
    assert new.evidence["neighbours"].enabled and not new.channels["sequence"].enabled
    assert new.train.ema == 0.995
    assert new.train.members == 0 and model_count(new) == 3


def test_the_default_number_of_models_is_the_tasks_and_a_set_number_is_kept():
    pair, single = load_config(None, []), load_config(None, ["task=single"])
    assert pair.train.members == single.train.members == 0
    assert model_count(pair) == 3  # the pair default: an ensemble of three seeds
    assert model_count(single) == 1
    assert model_count(one_model(pair)) == 1  # what ablate and tune train
    two = load_config(None, ["train.members=2"])
    assert model_count(two) == model_count(one_model(two)) == 2
