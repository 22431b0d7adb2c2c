import dataclasses

import pytest

from ppi.config.run import dump_config, load_config
from ppi.data.pairs import Pair, count_repeats
from ppi.errors import ConfigError, InputError
from ppi.training.datasets import TaskData
from ppi.training.preflight import check_resume, check_training_data

BOTH = [Pair("A", "B", 1.0), Pair("C", "D", 0.0)]


def _data(train, valid=BOTH, test=BOTH, **kw):
    return TaskData({}, {"train": train, "valid": valid, "test": test}, **kw)


def test_pairs_of_one_class_are_refused_naming_the_split():
    config = load_config(None, ["data.train=p.tsv"])
    check_training_data(config, _data(BOTH))
    positive = [Pair("A", "B", 1.0), Pair("C", "D", 1.0)]
    with pytest.raises(InputError, match=r"p.tsv \(train split\): .* got 2 positive and 0 neg"):
        check_training_data(config, _data(positive))
    with pytest.raises(InputError, match=r"p.tsv \(valid split\): .* got 0 positive and 1 neg"):
        check_training_data(config, _data(BOTH, valid=[Pair("E", "F", 0.0)]))
    given = load_config(None, ["data.train=p.tsv", "data.test=t.tsv"])
    with pytest.raises(InputError, match=r"^t.tsv: expected positive and negative"):
        check_training_data(given, _data(BOTH, test=positive))


def test_single_task_needs_two_classes():
    config = load_config(None, ["task=single", "data.train=t.csv"])
    with pytest.raises(InputError, match=r"t.csv: expected at least two classes .* \['x'\]"):
        check_training_data(config, TaskData({}, {"train": []}, class_names=("x",)))
    check_training_data(config, TaskData({}, {"train": []}, ("x",), multi_label=True))


def test_conflicting_repeats_are_an_error_unless_allowed():
    pairs = [*BOTH, Pair("B", "A", 0.0), Pair("A", "B", 1.0), Pair("D", "C", 1.0)]
    assert count_repeats(pairs) == (3, 2, ("A", "B"))
    config = load_config(None, ["data.train=p.tsv"])
    with pytest.raises(InputError, match=r"p.tsv: 2 pairs repeat .*first: A B.*allow_conflicts"):
        check_training_data(config, _data(pairs))
    allowed = load_config(None, ["data.train=p.tsv", "data.allow_conflicts=true"])
    check_training_data(allowed, _data(pairs))


def test_resume_refuses_changed_model_settings(tmp_path, tiny):
    config = load_config(None, tiny)
    (tmp_path / "config.yaml").write_text(dump_config(config))
    longer = dataclasses.replace(
        config, resume=str(tmp_path), train=dataclasses.replace(config.train, epochs=9)
    )
    check_resume(longer, tmp_path)
    wider = load_config(None, [f"resume={tmp_path}", "backbone.dim=32", "fusion.heads=4"])
    with pytest.raises(ConfigError) as err:
        check_resume(wider, tmp_path)
    message = str(err.value)
    assert "backbone.dim: 16 there, 32 now" in message and "fusion.heads: 2 there, 4 now" in message
    assert str(tmp_path / "config.yaml") in message and "train.epochs" in message
