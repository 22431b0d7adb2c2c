"""Configuration: the run's config tree, the YAML/override machinery, presets.

``from ppi.config import Config, load_config`` reads the run config; it
imports no torch, FAISS or torch-geometric (each component's config lives in
a light ``configs.py`` beside its code).
"""

from ppi.registry import lazy_attributes

__getattr__ = lazy_attributes(
    __name__, dict.fromkeys(("Config", "load_config", "dump_config"), "ppi.config.run")
)

__all__ = ["Config", "dump_config", "load_config"]
