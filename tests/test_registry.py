"""The registry: names in YAML map to classes; a bad name lists the choices."""

import pytest

from ppi.errors import ConfigError
from ppi.registry import Registry


def test_register_get_build_and_lazy_entries():
    reg = Registry("widget")

    @reg.register("plain")
    class Plain:
        Config = dict

        def __init__(self, config, extra=0):
            self.config, self.extra = config, extra

    reg.register_lazy("fusion", "ppi.fusion.cross_attention")
    assert reg.names() == ["fusion", "plain"] and "plain" in reg and "fusion" in reg
    assert reg.get("plain") is Plain and Plain.registry_name == "plain"
    assert reg.config_class("plain") is dict

    class Named:
        name = "plain"

    built = reg.build(Named(), extra=3)
    assert isinstance(built, Plain) and built.extra == 3
    with pytest.raises(ConfigError, match=r"Unknown widget 'nope' \(choices: fusion, plain\)"):
        reg.get("nope")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("plain")(type("Other", (), {}))


def test_the_project_s_registries_name_their_families():
    from ppi.backbones import BACKBONES
    from ppi.channels import CHANNELS
    from ppi.fusion import EVIDENCE, FUSIONS, HEADS

    assert {"esm2", "scratch"} <= set(BACKBONES.names())
    assert {"sequence", "homology", "annotation", "properties", "structure"} == set(
        CHANNELS.names()
    )
    assert FUSIONS.names() == ["cross_attention"] and HEADS.names() == ["pair", "single"]
    assert EVIDENCE.names() == ["composition", "interolog", "neighbours"]


def test_a_lazy_entry_gives_its_config_without_importing_and_must_match_the_class():
    reg = Registry("widget")

    class WidgetConfig:
        pass

    reg.register_lazy("w", "no.such.module", WidgetConfig)
    assert reg.config_class("w") is WidgetConfig  # the module is never imported
    with pytest.raises(ValueError, match="registered as"):
        reg.register("w")(type("W", (), {"Config": dict}))
    reg.register("w")(type("W", (), {"Config": WidgetConfig}))
    assert reg.get("w").Config is WidgetConfig


def test_every_registered_component_carries_the_config_the_registry_names():
    from ppi.backbones import BACKBONES
    from ppi.channels import CHANNELS
    from ppi.fusion import EVIDENCE, FUSIONS, HEADS

    for reg in (BACKBONES, CHANNELS, EVIDENCE, FUSIONS, HEADS):
        for name in reg.names():
            assert reg.get(name).Config is reg.config_class(name), (reg.kind, name)
