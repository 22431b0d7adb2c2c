"""Protein language model backbones, registered by name in :data:`BACKBONES`.

The configs and the registry (``configs.py``) import no model library; each
backbone's module (torch, transformers, fair-esm) is imported when the
backbone is first used, so a run pays only for the backbone it uses.
"""

from ppi.backbones.configs import BACKBONES, BackboneConfig
from ppi.registry import lazy_attributes

__getattr__ = lazy_attributes(
    __name__, {"ALPHABET": "ppi.backbones.base", "Backbone": "ppi.backbones.base"}
)

__all__ = ["ALPHABET", "BACKBONES", "Backbone", "BackboneConfig"]
