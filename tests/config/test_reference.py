"""docs/configuration.md is generated from the config dataclasses; it must not be stale."""

import dataclasses
from pathlib import Path

from ppi.config.reference import attribute_docs, reference
from ppi.config.run import Config, TrainConfig

PAGE = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_the_configuration_page_is_what_the_dataclasses_say():
    assert PAGE.read_text() == reference(), (
        "docs/configuration.md is stale: run python scripts/config_reference.py"
    )


def test_every_field_of_the_run_config_has_a_documented_meaning():
    for cls in (Config, TrainConfig):
        docs = attribute_docs(cls)
        missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
        assert not missing, f"{cls.__name__}: no Attributes entry for {missing}"
    assert "seed of initialisation" in attribute_docs(Config)["seed"]
