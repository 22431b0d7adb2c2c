"""Each config field declares its range or choices; a bad value names key, value and range."""

import dataclasses
import math
import typing

import pytest

from ppi.backbones import BACKBONES
from ppi.channels import CHANNELS
from ppi.config import tools as configtools
from ppi.config.run import Config, load_config
from ppi.config.tools import Range, setting
from ppi.errors import ConfigError
from ppi.fusion import FUSIONS, HEADS
from ppi.homologs.index import IndexConfig, index_config


def _config_classes():
    """Every dataclass a config tree can hold: the run's, the index's and every registered one."""
    found, todo = {}, [Config, IndexConfig]
    for registry in (BACKBONES, CHANNELS, FUSIONS, HEADS):
        todo += [registry.config_class(n) for n in registry.names()]
    while todo:
        cls = todo.pop()
        if cls.__name__ in found:
            continue
        found[cls.__name__] = cls
        hints = typing.get_type_hints(cls)
        todo += [t for t in hints.values() if dataclasses.is_dataclass(t)]
    return found


def _numeric(tp):
    return tp in (int, float) or typing.get_args(tp)[:1] in ((int,), (float,))


@pytest.mark.parametrize("name", sorted(_config_classes()))
def test_every_number_declares_its_range(name):
    cls = _config_classes()[name]
    hints = typing.get_type_hints(cls)
    undeclared = [
        f.name
        for f in dataclasses.fields(cls)
        if _numeric(hints[f.name]) and "range" not in f.metadata and "choices" not in f.metadata
    ]
    assert not undeclared, f"{name}: numeric fields without setting(default, bounds): {undeclared}"


def test_defaults_are_inside_their_ranges():
    for cls in _config_classes().values():
        configtools.check(cls())


BAD = [
    ("train.lr=-1", "train.lr: expected a number in (0, inf), got -1.0"),
    ("train.lr=nan", "train.lr: expected a number in (0, inf), got nan"),
    ("train.lr=.inf", "train.lr: expected a number in (0, inf), got inf"),
    ("train.batch_size=0", "train.batch_size: expected an integer in [1, inf), got 0"),
    ("train.eval_batch_size=-1", "train.eval_batch_size: expected an integer in [1, inf), got -1"),
    ("train.epochs=0", "train.epochs: expected an integer in [1, inf), got 0"),
    ("train.grad_accum=0", "train.grad_accum: expected an integer in [1, inf), got 0"),
    ("train.warmup=5", "train.warmup: expected a number in [0, 1), got 5.0"),
    ("train.patience=0", "train.patience: expected an integer in [1, inf), got 0"),
    ("train.log_with=[tensorbord]", "train.log_with: expected one of aim,"),
    ("evaluation.prevalence=2", "evaluation.prevalence: expected a number in (0, 1), got 2.0"),
    ("evaluation.prevalence=0", "evaluation.prevalence: expected a number in (0, 1), got 0.0"),
    ("seed=-1", "seed: expected an integer in [0, 4294967295], got -1"),
    ("fusion.dim=0", "fusion.dim: expected an integer in [1, inf), got 0"),
    ("fusion.heads=3", "fusion.dim: expected a multiple of heads (3), got 128"),
    ("fusion.dropout=1", "fusion.dropout: expected a number in [0, 1), got 1.0"),
    ("backbone.max_len=0", "backbone.max_len: expected an integer in [1, inf), got 0"),
    ("backbone.heads=3", "backbone.dim: expected a multiple of heads (3), got 64"),
    ("backbone.window_overlap=0.7", "backbone.window_overlap: expected a number in [0, 0.5]"),
    ("channels.sequence.train_crop=-5", "channels.sequence.train_crop: expected an integer in"),
    ("channels.annotation.namespaces=[go_xx]", "channels.annotation.namespaces: expected one of"),
    ("channels.structure.min_identity=1.5", "channels.structure.min_identity: expected a number"),
    ("head.hidden=0", "head.hidden: expected an integer in [1, inf), got 0"),
    ("data.valid_fraction=1", "data.valid_fraction: expected a number in [0, 1), got 1.0"),
    ("data.test_fraction=0.95", "data.test_fraction: expected valid_fraction + test_fraction"),
    ("data.limit=-1", "data.limit: expected an integer in [0, inf), got -1"),
    ("train=5", "train: expected a mapping of keys, got 5"),
    ("backbone=esm2", "backbone: expected a mapping with a 'name', got 'esm2' (write backbone"),
    ("channels=[sequence]", "channels: expected a mapping of channel names, got ['sequence']"),
    ("channels.sequence=a b", "channels.sequence: expected a mapping of keys, got 'a b'"),
]


@pytest.mark.parametrize(("override", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_value_names_key_value_and_range(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert message in str(err.value)


def test_registered_component_values_are_checked_too():
    with pytest.raises(ConfigError, match=r"backbone.layer: expected an integer in \[-9, 8\]"):
        load_config(None, ["backbone.name=antiberty", "backbone.layer=12"])
    with pytest.raises(ConfigError, match=r"backbone.batch_tokens: expected an integer in \[1"):
        load_config(None, ["backbone.name=esm2", "backbone.batch_tokens=0"])
    with pytest.raises(ConfigError, match=r"channels.homology.k: expected an integer in \[1"):
        load_config(None, ["channels.homology.k=0"])
    with pytest.raises(ConfigError, match=r"faiss.hnsw_m: expected an integer in \[2, inf\)"):
        index_config(["faiss.hnsw_m=0"])


def test_range_notation_and_nan():
    half_open = Range.parse("[0, 1)")
    assert 0 in half_open and 0.5 in half_open and 1 not in half_open
    assert math.nan not in half_open and math.nan not in Range.parse("(-inf, inf)")
    assert str(Range.parse(" (0,  inf) ")) == "(0,  inf)"
    with pytest.raises(ValueError, match="expected an interval"):
        Range.parse("0..1")


def test_cross_checks_run_on_configs_built_in_code():
    @dataclasses.dataclass(frozen=True)
    class Pair:
        low: int = setting(0, "[0, 10]")
        high: int = setting(5, "[0, 10]")

        def problems(self):
            if self.low > self.high:
                yield "low", f"expected at most high ({self.high}), got {self.low}"

    assert configtools.build(Pair, {"low": 3}, "p") == Pair(3, 5)
    with pytest.raises(ConfigError, match=r"^p.low: expected at most high \(5\), got 7$"):
        configtools.build(Pair, {"low": 7}, "p")
    with pytest.raises(ConfigError, match=r"^p.high: expected an integer in \[0, 10\], got 11$"):
        configtools.build(Pair, {"high": 11}, "p")


def test_scratch_backbone_built_in_code_is_checked():
    from ppi.backbones.scratch import ScratchBackbone, ScratchConfig

    with pytest.raises(ConfigError, match=r"backbone.dim: expected a multiple of heads \(3\)"):
        ScratchBackbone(ScratchConfig(dim=16, heads=3))
