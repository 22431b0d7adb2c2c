"""Protein language model backbones, registered by name in :data:`BACKBONES`."""

from ppi.backbones.base import ALPHABET, BACKBONES, Backbone, BackboneConfig

__all__ = ["ALPHABET", "BACKBONES", "Backbone", "BackboneConfig"]
