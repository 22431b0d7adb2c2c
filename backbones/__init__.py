"""Protein language model backbones, registered by name in :data:`BACKBONES`.

``scratch`` is imported at once; the others are imported when first used, so
a run that never touches transformers or fair-esm does not pay for importing
them.
"""

from ppi.backbones import scratch  # noqa: F401  (registers "scratch")
from ppi.backbones.base import ALPHABET, BACKBONES, Backbone, BackboneConfig

BACKBONES.register_lazy("esm2", "ppi.backbones.esm2")
BACKBONES.register_lazy("hf", "ppi.backbones.hf")
BACKBONES.register_lazy("antiberty", "ppi.backbones.antiberty")
BACKBONES.register_lazy("unirep", "ppi.backbones.unirep")

__all__ = ["ALPHABET", "BACKBONES", "Backbone", "BackboneConfig"]
